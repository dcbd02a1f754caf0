"""The transition gate: the change from a base revision to a tree, judged.

``flaggate check --base REF`` loads the flags at REF and in the tree being
judged (the working tree, or with ``--head`` a commit read from git objects),
matches them by name, and judges every change: state changes with the rules
``transition``, ``evidence``, ``soak`` and ``reason_code``; rule changes as
``amend``s (their modules in ``validator/rules`` document them).

Every yardstick comes from the base and its history, never from the change
being judged: the plan, guards, soak, requirements, policy and owners are the
base's; where a flag stands on its plan, when it entered its step and which
runs were cited come from ``validator.timeline``, never from a transition
block a change can rewrite.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from validator import clock, history, plan, timeline
from validator.finding import Finding
from validator.model import Policy
from validator.plan import Position
from validator.repo import EVIDENCE_DIR, POLICY_FILE, RESOURCES_FILE, FlagFile, Snapshot, Tree, load_snapshot
from validator.rules import amend, evidence, reason_code, soak, transition


@dataclass
class Move:
    """One change between the base and the tree judged: a flag's state change, or an amend of rules."""

    flag: str | None
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
    path: str | None = None  # the file amended (a flag file, policy.yaml or resources.yaml)
    changes: list[dict[str, Any]] = field(default_factory=list)  # an amend's fields, before and after

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "flag": self.flag,
            "from": self.before.state if self.before else None,
            "to": self.after.state if self.after else None,
            "from_percentage": self.before.percentage if self.before else None,
            "to_percentage": self.after.percentage if self.after else None,
            "kind": self.kind,
        }
        if self.kind == amend.KIND:
            body["file"] = self.path
            body["changes"] = self.changes
        return body


@dataclass
class Base:
    """The yardstick: a base revision, its files, and where each flag stood there."""

    ref: str
    sha: str
    snapshot: Snapshot
    policy: Policy
    standings: dict[str, timeline.Standing]


@dataclass
class Judgement:
    base_sha: str
    base: Snapshot
    moves: list[Move]
    findings: list[Finding]


def load_base(root: Path, ref: str, head: Snapshot | None = None) -> Base:
    """Resolve ``ref`` once, read its files and its history.

    With ``head`` (the tree to be judged), the history is asked only where the
    flags that move stand: ``judge`` reads a standing for nothing else.
    """
    history.ensure_repository(root)
    sha = history.resolve(root, ref)
    base = base_at(root, ref, sha, {})
    base.standings = timeline.standings_at(root, sha, _moving(base.snapshot, head) if head is not None else None)
    return base


def _moving(base: Snapshot, head: Snapshot) -> frozenset[str]:
    """The flags readable on both sides whose state or percentage differs."""
    moving = set()
    for name, now_file in head.flags.items():
        was = base.flags.get(name)
        if (
            was is not None
            and was.flag is not None
            and now_file.flag is not None
            and plan.position(was.flag) != plan.position(now_file.flag)
        ):
            moving.add(name)
    return frozenset(moving)


def base_at(root: Path, ref: str, sha: str, standings: dict[str, timeline.Standing]) -> Base:
    snapshot = load_snapshot(history.GitTree(root, sha))
    if snapshot.findings or snapshot.policy is None:
        first = snapshot.findings[0] if snapshot.findings else None
        more = f" (and {len(snapshot.findings) - 1} more)" if len(snapshot.findings) > 1 else ""
        cause = f"{first.file}:{first.line}:{first.column}: {first.rule}: {first.message}{more}" if first else "no policy"
        raise history.HistoryError(f"the base revision {ref} ({sha[:12]}) cannot be read, so no change can be judged against it: {cause}")
    return Base(ref, sha, snapshot, snapshot.policy, standings)


def judge(root: Path, base: Base, head: Snapshot, tree: Tree, now: datetime) -> Judgement:
    """Every move from ``base`` to ``head`` and what the rules say of it."""
    policy = base.policy
    findings: list[Finding] = []
    moves: list[Move] = []

    base_flags, head_flags = base.snapshot.flags, head.flags
    unreadable_paths = {f.path for f in head.files if f.flag is None}
    unreadable_names = head.unreadable_names()
    for name in sorted(set(base_flags) | set(head_flags)):
        was, now_file = base_flags.get(name), head_flags.get(name)
        if was is not None and now_file is None:
            if was.path in unreadable_paths or name in unreadable_names:
                continue  # the head file's own errors are reported; it is not a deletion
            moves.append(_deletion(was, head, findings))
            continue
        if was is None or was.flag is None:
            if now_file is not None:
                moves.append(_creation(now_file, findings))
            continue
        if now_file is None or now_file.flag is None:
            continue
        standing = base.standings.get(name)
        amended = _flag_amend(was, now_file)
        if amended is not None:
            moves.append(amended)
        if plan.position(was.flag) == plan.position(now_file.flag):
            continue
        at = standing.step if standing is not None else plan.locate(plan.steps(was.flag), plan.position(was.flag))
        move = _move(was, now_file, at, findings)
        if standing is not None:
            move.entered_at, move.entered_commit = standing.entered_at, standing.entered_commit
        moves.append(move)
        if amended is not None and move.kind == plan.PROMOTE:
            _add(
                findings,
                now_file,
                ("state",),
                amend.RULE,
                f"{name}: this change amends the flag's rules ({'; '.join(amend.describe(c) for c in amended.changes[:3])}"
                f"{'; ...' if len(amended.changes) > 3 else ''}) and promotes it; an amend is never combined with a promotion "
                "of the same flag: amend in one pull request (approved by the platform owners), promote in a later one",
            )
        if move.legal:
            _check_transition_block(move, findings)
            if move.kind == plan.PROMOTE:
                cited = standing.cited if standing is not None else {}
                _check_promotion(move, policy, tree, now, cited, findings)
            elif move.kind in (plan.DEMOTE, plan.DISABLE):
                _check_reason(move, policy, findings)

    moves.extend(_file_amends(base.snapshot, head))
    findings.extend(_evidence_rewrites(root, base, tree))

    promotions = [m for m in moves if m.kind == plan.PROMOTE]
    if len(promotions) > policy.max_promotions_per_change:
        names = ", ".join(m.flag or "" for m in promotions)
        for move in promotions:
            _add(
                findings,
                move.head,
                ("state",),
                transition.RULE,
                f"this change promotes {len(promotions)} flags ({names}); policy allows {policy.max_promotions_per_change} per change, so each gets its own evidence, approval and audit entry",
            )
    return Judgement(base.sha, base.snapshot, moves, findings)


def _flag_amend(was: FlagFile, now_file: FlagFile) -> Move | None:
    if was.flag is None or now_file.flag is None:
        return None
    changes = amend.changes(amend.rules_of(was.flag, amend.FLAG_FIELDS), amend.rules_of(now_file.flag, amend.FLAG_FIELDS))
    if not changes:
        return None
    here = plan.position(was.flag)
    return Move(now_file.flag.name, amend.KIND, here, here, was, now_file, path=now_file.path, changes=changes)


def _file_amends(base: Snapshot, head: Snapshot) -> list[Move]:
    found = []
    for path, before, after in ((POLICY_FILE, base.policy, head.policy), (RESOURCES_FILE, base.resources, head.resources)):
        if before is None or after is None:
            continue  # an unreadable file is reported by its own findings
        changes = amend.changes(amend.rules_of(before), amend.rules_of(after))
        if changes:
            found.append(Move(None, amend.KIND, None, None, None, None, path=path, changes=changes))
    return found


def _evidence_rewrites(root: Path, base: Base, tree: Tree) -> list[Finding]:
    """Evidence is append-only: a run file that exists at the base is never modified, renamed or deleted."""
    findings = []
    for path, status in history.changed_paths(root, base.sha, getattr(tree, "rev", None), f"{EVIDENCE_DIR}/"):
        if status == "A":
            continue
        what = {"D": "deleted (or renamed)", "T": "replaced by another kind of file"}.get(status, "modified")
        parts = path.split("/")
        flag = parts[1] if len(parts) > 2 else None
        findings.append(
            Finding(
                path,
                1,
                1,
                evidence.RULE,
                f"{path} exists at the base and is {what} here; evidence is append-only: restore it "
                f"(git checkout {base.sha[:12]} -- {path}) and add a new run instead",
                flag,
            )
        )
    return findings


def _add(findings: list[Finding], file: FlagFile | None, path: tuple[Any, ...], rule: str, message: str) -> None:
    if file is None:
        return
    line, column = file.doc.where(path) if file.doc else (1, 1)
    findings.append(Finding(file.path, line, column, rule, message, file.flag.name if file.flag else None))


def _move(was: FlagFile, now_file: FlagFile, at: int | None, findings: list[Finding]) -> Move:
    """The move of one flag; ``at`` is its step at the base, from history."""
    base_flag, head_flag = was.flag, now_file.flag
    if base_flag is None or head_flag is None:
        raise ValueError("a move needs both flag files read")
    steps = plan.steps(base_flag)
    before, after = plan.position(base_flag), plan.position(head_flag)
    legal = plan.classify(steps, at, after)
    if legal is None:
        kind, _, _ = timeline.move_kind(steps, at, after)
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
        on_file=_run_ids(tree, move.flag),
        signers=list(policy.signers),
    )
    move.verdict = verdict
    findings.extend(verdict.findings)


def _run_ids(tree: Tree, flag: str | None) -> list[str]:
    """Every run id in ``evidence/<flag>/`` of the tree judged (the cited runs must be the newest)."""
    if flag is None:
        return []
    suffix = ".json"
    prefix = f"{EVIDENCE_DIR}/{flag}/"
    return sorted(
        e.path[len(prefix) : -len(suffix)]
        for e in tree.entries_under(f"{EVIDENCE_DIR}/{flag}")
        if e.path.endswith(suffix) and "/" not in e.path[len(prefix) :]
    )


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
