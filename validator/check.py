"""Load, check, collect: the whole of ``flaggate check`` for one tree, with or without a base."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from validator.finding import Finding
from validator.repo import Entry, Snapshot, Tree, load_snapshot
from validator.report import Result
from validator.rules import consistency, dependency


def check_snapshot(tree: Tree, entries: list[Entry] | None = None) -> tuple[Snapshot, list[Finding]]:
    """Every finding of one tree on its own (no base to compare with)."""
    snapshot = load_snapshot(tree, entries)
    findings = [*snapshot.findings, *consistency.check(snapshot), *dependency.check(snapshot)]
    return snapshot, findings


def run(root: Path, tree: Tree, *, entries: list[Entry] | None = None, base: str | None = None, now: datetime | None = None) -> Result:
    """``flaggate check``: the tree's own findings and, with ``base``, the change judged."""
    if base is None:
        snapshot, findings = check_snapshot(tree, entries)
        return Result(findings, checked=len(snapshot.files))
    from validator.gate import judge

    snapshot = load_snapshot(tree, entries)
    findings = [*snapshot.findings, *consistency.check(snapshot)]

    assert now is not None
    judgement = judge(root, base, snapshot, tree, now)
    findings.extend(judgement.findings)
    findings.extend(dependency.check(snapshot, moved={m.flag: m.kind for m in judgement.moves}))
    return Result(findings, checked=len(snapshot.files), transitions=[m.as_json() for m in judgement.moves], judgement=judgement)
