"""Load, check, collect: the whole of ``flaggate check`` for one tree."""

from __future__ import annotations

from validator.finding import Finding
from validator.repo import Entry, Snapshot, Tree, load_snapshot
from validator.rules import consistency, dependency


def check_snapshot(tree: Tree, entries: list[Entry] | None = None) -> tuple[Snapshot, list[Finding]]:
    """Every finding of one tree on its own (no base to compare with)."""
    snapshot = load_snapshot(tree, entries)
    findings = [*snapshot.findings, *consistency.check(snapshot), *dependency.check(snapshot)]
    return snapshot, findings
