"""The transition gate: the change from a base revision to the working tree, judged.

``flaggate check --base REF`` loads the flags at REF and in the working tree,
matches them by name, and for every flag whose state or percentage moved
applies the rules ``transition``, ``evidence``, ``soak`` and ``reason_code``
(their modules in ``validator/rules`` document them).  The base's plan,
guards and policy are what a change is judged by, so that a change cannot
loosen the rule it is judged by.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from validator import audit, clock, history, plan
from validator.finding import Finding
from validator.model import Policy
from validator.plan import Position
from validator.repo import FlagFile, Snapshot, Tree, load_snapshot
from validator.rules import evidence, reason_code, soak, transition


@dataclass
class Move:
    """One flag's state change between the base and the working tree."""

    flag: str
    kind: str
    before: Position | None
    after: Position | None
    base: FlagFile | None
    head: FlagFile | None
    legal: bool = True
    entered_at: datetime | None = None
    entered_commit: str | None = None
    verdict: evidence.Verdict | None = None
    from_step: int | None = None  # the base plan's step a legal move leaves

    def as_json(self) -> dict[str, Any]:
        return {
            "flag": self.flag,
            "from": self.before.state if self.before else None,
            "to": self.after.state if self.after else None,
            "from_percentage": self.before.percentage if self.before else None,
            "to_percentage": self.after.percentage if self.after else None,
            "kind": self.kind,
        }


@dataclass
class Judgement:
    base_sha: str
    base: Snapshot
    moves: list[Move]
    findings: list[Finding]


def load_base(root: Path, ref: str) -> tuple[str, Snapshot]:
    history.ensure_repository(root)
    sha = history.resolve(root, ref)
    base = load_snapshot(history.GitTree(root, sha))
    if base.findings:
        first = base.findings[0]
        more = f" (and {len(base.findings) - 1} more)" if len(base.findings) > 1 else ""
        raise history.HistoryError(
            f"the base revision {ref} ({sha[:12]}) cannot be read, so no change can be judged against it: "
            f"{first.file}:{first.line}:{first.column}: {first.rule}: {first.message}{more}"
        )
    return sha, base


def history_facts(root: Path, sha: str) -> tuple[dict[tuple[str, Position], tuple[datetime, str]], dict[str, dict[str, str]]]:
    """When each flag entered each position last, and which runs earlier promotions cited."""
    entered: dict[tuple[str, Position], tuple[datetime, str]] = {}
    cited: dict[str, dict[str, str]] = {}
    for event in audit.events(root, sha):
        if not isinstance(event, audit.Event):
            continue
        if event.after is not None:
            entered[(event.flag, event.after)] = (datetime.fromtimestamp(event.commit.time, UTC), event.commit.sha)
        if event.kind == plan.PROMOTE:
            for run_id in event.evidence:
                cited.setdefault(event.flag, {}).setdefault(run_id, event.commit.sha)
    return entered, cited


def judge(root: Path, ref: str, head: Snapshot, tree: Tree, now: datetime) -> Judgement:
    sha, base = load_base(root, ref)
    entered, cited = history_facts(root, sha)
    policy = base.policy
    assert policy is not None  # a base without a readable policy was refused above
    findings: list[Finding] = []
    moves: list[Move] = []

    base_flags, head_flags = base.flags, head.flags
    unreadable_paths = {f.path for f in head.files if f.flag is None}
    unreadable_names = head.unreadable_names()
    for name in sorted(set(base_flags) | set(head_flags)):
        was, now_file = base_flags.get(name), head_flags.get(name)
        if was is not None and now_file is None:
            if was.path in unreadable_paths or name in unreadable_names:
                continue  # the head file's own errors are reported; it is not a deletion
            moves.append(_deletion(was, head, findings))
            continue
        if was is None:
            assert now_file is not None
            moves.append(_creation(now_file, findings))
            continue
        assert was.flag is not None and now_file is not None and now_file.flag is not None
        if plan.position(was.flag) == plan.position(now_file.flag):
            continue
        move = _move(was, now_file, findings)
        key = (name, move.before)
        if key in entered:
            move.entered_at, move.entered_commit = entered[key]
        moves.append(move)
        if move.legal:
            _check_transition_block(move, findings)
            if move.kind == plan.PROMOTE:
                _check_promotion(move, policy, tree, now, cited.get(name, {}), findings)
            elif move.kind in (plan.DEMOTE, plan.DISABLE):
                _check_reason(move, policy, findings)

    promotions = [m for m in moves if m.kind == plan.PROMOTE]
    if len(promotions) > policy.max_promotions_per_change:
        names = ", ".join(m.flag for m in promotions)
        for move in promotions:
            _add(
                findings,
                move.head,
                ("state",),
                transition.RULE,
                f"this change promotes {len(promotions)} flags ({names}); policy allows {policy.max_promotions_per_change} per change, so each gets its own evidence, approval and audit entry",
            )
    return Judgement(sha, base, moves, findings)


def _add(findings: list[Finding], file: FlagFile | None, path: tuple[Any, ...], rule: str, message: str) -> None:
    if file is None:
        return
    line, column = file.doc.where(path) if file.doc else (1, 1)
    findings.append(Finding(file.path, line, column, rule, message, file.flag.name if file.flag else None))


def _move(was: FlagFile, now_file: FlagFile, findings: list[Finding]) -> Move:
    base_flag, head_flag = was.flag, now_file.flag
    assert base_flag is not None and head_flag is not None
    steps = plan.steps(base_flag)
    at = plan.index(base_flag)
    before, after = plan.position(base_flag), plan.position(head_flag)
    legal = plan.classify(steps, at, after)
    if legal is None:
        kind, _ = audit.move_kind(steps, at, after)
        move = Move(head_flag.name, kind, before, after, was, now_file, legal=False)
        _add(
            findings,
            now_file,
            ("state",),
            transition.RULE,
            f"{head_flag.name}: {before} -> {after} is not a legal step of its rollout plan; "
            f"from {before} the legal next steps are: {plan.describe_moves(steps, at)}",
        )
        return move
    kind, _ = legal
    return Move(head_flag.name, kind, before, after, was, now_file, from_step=at)


def _creation(file: FlagFile, findings: list[Finding]) -> Move:
    flag = file.flag
    assert flag is not None
    first = plan.steps(flag)[0]
    move = Move(flag.name, plan.CREATE, None, plan.position(flag), None, file)
    if plan.position(flag) != first:
        move.legal = False
        _add(
            findings,
            file,
            ("state",),
            transition.RULE,
            f"new flag {flag.name} must start in its plan's first step ({first}), not {plan.position(flag)}",
        )
    if flag.transition is not None and flag.transition.from_ is not None:
        _add(
            findings,
            file,
            ("transition", "from"),
            transition.RULE,
            f"new flag {flag.name}: transition.from must be null (there is no earlier state), not {flag.transition.from_!r}",
        )
    return move


def _deletion(was: FlagFile, head: Snapshot, findings: list[Finding]) -> Move:
    flag = was.flag
    assert flag is not None
    move = Move(flag.name, plan.DELETE, plan.position(flag), None, was, None)
    problems = []
    if flag.state != flag.rollout[0].state:
        problems.append(f"it was {plan.position(flag)} at the base; demote it to {flag.rollout[0].state} first")
    dependents = sorted(f.flag.name for f in head.flags.values() if f.flag and any(r.flag == flag.name for r in f.flag.requires.flags))
    if dependents:
        problems.append(f"{', '.join(dependents)} require{'s' if len(dependents) == 1 else ''} it")
    if problems:
        move.legal = False
        findings.append(Finding(was.path, 1, 1, transition.RULE, f"flag {flag.name} cannot be deleted: {'; '.join(problems)}", flag.name))
    return move


def _check_transition_block(move: Move, findings: list[Finding]) -> None:
    head = move.head
    assert head is not None and head.flag is not None and move.before is not None and move.after is not None
    block = head.flag.transition
    if block is None:
        _add(
            findings,
            head,
            ("state",),
            transition.RULE,
            f"{move.kind} {move.before} -> {move.after} needs a transition block (from, to, justification); `flaggate {'promote' if move.kind == plan.PROMOTE else 'demote'}` writes it",
        )
        return
    stale = []
    if block.from_ != move.before.state:
        stale.append(("from", f"transition.from is {block.from_!r} but the flag was {move.before.state!r} at the base"))
    # transition.to against the new state is the consistency rule's, reported without a base too.
    if block.from_percentage is not None and block.from_percentage != move.before.percentage:
        stale.append(
            (
                "from_percentage",
                f"transition.from_percentage is {block.from_percentage} but the base percentage is {move.before.percentage}",
            )
        )
    if block.to_percentage is not None and block.to_percentage != move.after.percentage:
        stale.append(("to_percentage", f"transition.to_percentage is {block.to_percentage} but the percentage is {move.after.percentage}"))
    base_block = move.base.flag.transition if move.base and move.base.flag else None
    for key, message in stale:
        hint = " (the block was left over from an earlier change)" if base_block == block else ""
        _add(findings, head, ("transition", key), transition.RULE, message + hint)


def _check_promotion(move: Move, policy: Policy, tree: Tree, now: datetime, cited: dict[str, str], findings: list[Finding]) -> None:
    base, head = move.base, move.head
    assert base is not None and base.flag is not None and head is not None and head.flag is not None and head.doc is not None
    at = move.from_step
    assert at is not None
    step = base.flag.rollout[at]
    if step.soak_days:
        if move.entered_at is None:
            _add(findings, head, ("state",), soak.RULE, f"cannot tell from the history of the base when {move.flag} entered {move.before}")
        else:
            left = soak.remaining(move.entered_at, step.soak_days, now)
            if left.total_seconds() > 0:
                ready = move.entered_at + timedelta(days=step.soak_days)
                _add(
                    findings,
                    head,
                    ("state",),
                    soak.RULE,
                    f"{move.flag} entered {move.before} at {clock.iso(move.entered_at)} (commit {move.entered_commit[:12] if move.entered_commit else '?'}); "
                    f"the plan soaks {step.soak_days} day{'s' if step.soak_days != 1 else ''} there: {soak.human(left)} remain (promote after {clock.iso(ready)})",
                )
    if at == 0:
        return  # out of the first step (off): nothing ran yet to reconcile
    block = head.flag.transition
    verdict = evidence.check_promotion(
        flag=move.flag,
        flag_path=head.path,
        where=head.doc.where,
        run_ids=list(block.evidence) if block else [],
        left=move.before,  # type: ignore[arg-type]
        guards=[*base.flag.guards, *step.guards],
        read=tree.read,
        entered_at=move.entered_at,
        now=now,
        green_runs=policy.green_runs,
        max_age_days=policy.max_evidence_age_days,
        already_cited=cited,
    )
    move.verdict = verdict
    findings.extend(verdict.findings)


def _check_reason(move: Move, policy: Policy, findings: list[Finding]) -> None:
    head = move.head
    assert head is not None and head.flag is not None
    block = head.flag.transition
    if block is None:
        return  # reported by the transition block check
    codes = ", ".join(policy.reason_codes)
    if block.reason_code is None:
        _add(
            findings,
            head,
            ("transition",),
            reason_code.RULE,
            f"{move.kind} {move.before} -> {move.after} needs transition.reason_code, one of: {codes}",
        )
    elif block.reason_code not in policy.reason_codes:
        _add(
            findings,
            head,
            ("transition", "reason_code"),
            reason_code.RULE,
            f"reason code {block.reason_code} is not one of the base policy's: {codes}",
        )
