"""Load, check, collect: the whole of ``flaggate check`` for one tree, with or without a base."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from validator import rules
from validator.finding import Finding
from validator.repo import Entry, Snapshot, Tree, load_snapshot
from validator.report import Result
from validator.rules import consistency, dependency, layout

if TYPE_CHECKING:
    from validator import gate


def check_snapshot(tree: Tree, entries: list[Entry] | None = None) -> tuple[Snapshot, list[Finding]]:
    """Every finding of one tree on its own (no base to compare with)."""
    snapshot = load_snapshot(tree, entries)
    findings = [*snapshot.findings, *layout.check(tree), *consistency.check(snapshot), *dependency.check(snapshot)]
    findings.extend(rules.run_checks(rules.Context(tree, snapshot)))
    return snapshot, findings


def run(root: Path, tree: Tree, *, entries: list[Entry] | None = None, base: str | None = None, now: datetime | None = None) -> Result:
    """``flaggate check``: the tree's own findings and, with ``base``, the change judged."""
    if base is None:
        snapshot, findings = check_snapshot(tree, entries)
        return Result(findings, checked=len(snapshot.files))
    from validator import gate

    if now is None:
        raise ValueError("judging a change needs a time (now)")
    snapshot = load_snapshot(tree, entries)
    return judge_change(root, gate.load_base(root, base, snapshot), tree, now, entries=entries, snapshot=snapshot)


def judge_change(
    root: Path,
    base: gate.Base,
    tree: Tree,
    now: datetime,
    *,
    entries: list[Entry] | None = None,
    snapshot: Snapshot | None = None,
    one_step: bool = False,
) -> Result:
    """The tree's own findings plus the change from ``base`` to it, judged by the base's rules (``snapshot``: the tree's, if loaded).

    ``one_step``: the tree is one step of a first-parent history whose every step is judged
    (``publish``), so the commits it merges are not replayed for hidden steps."""
    from validator import gate

    if snapshot is None:
        snapshot = load_snapshot(tree, entries)
    early = gate.ask_early(root, base, snapshot, tree)
    findings = [*snapshot.findings, *layout.check(tree), *consistency.check(snapshot)]
    judgement = gate.judge(root, base, snapshot, tree, now, one_step=one_step, early=early)
    findings.extend(judgement.findings)
    moved = {m.flag: m.kind for m in judgement.moves if m.flag is not None and m.kind != "amend"}
    findings.extend(dependency.check(snapshot, moved=moved, yardstick=base.snapshot))
    findings.extend(rules.run_checks(rules.Context(tree, snapshot, base, judgement.moves, now)))
    return Result(findings, checked=len(snapshot.files), transitions=[m.as_json() for m in judgement.moves], judgement=judgement)
