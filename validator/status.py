"""``flaggate status``: every flag at a glance.

For each flag: its state and the percentage services bucket against, its
plan with the current step marked, how long it has been in the step and the
soak left, whether the next promotion is ready (and what is missing: soak,
usable green runs, requirements), and its last change with the reason code.

Cheap by design (the pre-commit budget): the working tree is read as
``flaggate check`` reads it, and git history is read in one pass
(``audit.events``: one ``git log`` and one ``git cat-file``) only when the
directory is a git repository.  The full gate runs only with ``--base``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from validator import clock, plan
from validator.check import check_snapshot
from validator.model import Flag, Policy, Resources
from validator.plan import Position
from validator.repo import WorkTree


@dataclass
class Last:
    kind: str
    before: Position | None
    after: Position | None
    at: datetime | None
    commit: str | None
    reason_code: str | None
    justification: str | None


@dataclass
class FlagStatus:
    name: str
    position: Position
    percentage: int
    steps: tuple[Position, ...]
    step: int | None
    entered_at: datetime | None = None
    soak_days: int | None = None
    soak_left: timedelta | None = None
    next: Position | None = None
    next_kind: str | None = None
    missing: list[str] = field(default_factory=list)
    suggested: list[str] = field(default_factory=list)
    last: Last | None = None
    change: dict[str, Any] | None = None

    @property
    def ready(self) -> bool:
        return self.next is not None and not self.missing


def _history(root: Path) -> tuple[dict[str, Any], dict[str, dict[str, str]], bool]:
    """The last event of each flag and the runs each flag's promotions cited, from one history pass."""
    from validator import audit, history

    if history.git(root, "rev-parse", "--is-inside-work-tree", check=False).strip() != "true":
        return {}, {}, False
    if not history.git(root, "rev-parse", "--verify", "--quiet", "HEAD", check=False).strip():
        return {}, {}, True  # a repository with no commit yet
    last: dict[str, Any] = {}
    cited: dict[str, dict[str, str]] = {}
    for event in audit.events(root, "HEAD"):
        if not isinstance(event, audit.Event):
            continue
        last[event.flag] = event
        if event.kind == plan.PROMOTE:
            for run_id in event.evidence:
                cited.setdefault(event.flag, {}).setdefault(run_id, event.commit.sha)
    return last, cited, True


def collect(root: Path, now: datetime) -> tuple[list[FlagStatus], list[Any]]:
    from validator.publish import effective_percentage

    snapshot, findings = check_snapshot(WorkTree(root))
    last_events, cited, _ = _history(root)
    policy, resources = snapshot.policy, snapshot.resources
    flags = {name: file.flag for name, file in snapshot.flags.items() if file.flag is not None}
    out = []
    for name, flag in sorted(flags.items()):
        steps = plan.steps(flag)
        here = plan.position(flag)
        status = FlagStatus(name, here, effective_percentage(flag.state, flag.percentage, flag.rollout[0].state), steps, plan.index(flag))
        event = last_events.get(name)
        block = flag.transition
        if event is not None and event.after == here:
            status.entered_at = datetime.fromtimestamp(event.commit.time, UTC)
            t = event.transition or {}
            status.last = Last(
                event.kind,
                event.before,
                event.after,
                status.entered_at,
                event.commit.sha,
                t.get("reason_code") if isinstance(t.get("reason_code"), str) else None,
                t.get("justification") if isinstance(t.get("justification"), str) else None,
            )
        elif block is not None:  # changed in the working tree, not committed yet
            before = Position(block.from_, block.from_percentage) if block.from_ is not None else None
            status.last = Last("uncommitted", before, here, None, None, block.reason_code, block.justification)
        _next_step(root, status, flag, policy, resources, flags, cited.get(name, {}), now)
        out.append(status)
    return out, findings


def _next_step(
    root: Path,
    status: FlagStatus,
    flag: Flag,
    policy: Policy | None,
    resources: Resources | None,
    flags: dict[str, Flag],
    cited: dict[str, str],
    now: datetime,
) -> None:
    at = status.step
    if at is None:
        status.missing.append(f"{status.position} is not a step of the plan")
        return
    soak_days = flag.rollout[at].soak_days
    if soak_days:
        status.soak_days = soak_days
        if status.entered_at is not None:
            status.soak_left = max(timedelta(0), status.entered_at + timedelta(days=soak_days) - now)
    legal = plan.moves(status.steps, at)
    if plan.PROMOTE not in legal:
        return
    target = status.steps[legal[plan.PROMOTE]]
    status.next, status.next_kind = target, plan.PROMOTE
    if soak_days:
        if status.entered_at is None:
            status.missing.append("soak: entry into this step is not committed yet")
        elif status.soak_left:
            status.missing.append(f"soak: {human(status.soak_left)} left of {soak_days} d")
    if at > 0:
        from validator.edit import usable_streak

        needed = policy.green_runs if policy else 3
        best, runs = usable_streak(root, flag, at, now, needed, status.entered_at, cited)
        if best:
            newest = max((r.finished_at for r in runs if r.run_id in best and r.finished_at is not None), default=None)
            age = policy.max_evidence_age_days if policy else 7
            if newest is not None and now - newest > timedelta(days=age):
                status.missing.append(f"evidence: the newest usable run is older than {age} d")
            else:
                status.suggested = best
        else:
            status.missing.append(f"evidence: no {needed} consecutive usable green runs")
    for requirement in flag.requires.flags:
        other = flags.get(requirement.flag)
        if target.state in requirement.when and (other is None or other.state not in requirement.in_):
            now_state = other.state if other is not None else "missing"
            status.missing.append(f"requires {requirement.flag} in {'/'.join(requirement.in_)} (it is {now_state})")
    if resources is not None:
        for resource in flag.requires.resources:
            found = resources.resources.get(resource)
            if target != status.steps[0] and (found is None or not found.provisioned):
                status.missing.append(f"resource {resource} is not provisioned")


def human(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {rest // 60}m"
    return f"{rest // 60}m"


def picture(status: FlagStatus, colour: bool = False) -> str:
    """``off > [shadow] > enforce``: the plan, the current step in brackets."""
    from validator.term import BOLD, paint

    parts = []
    for i, step in enumerate(status.steps):
        text = str(step)
        parts.append(paint(f"[{text}]", BOLD, colour) if i == status.step else text)
    return " > ".join(parts)


def _pos(position: Position | None) -> str:
    return str(position) if position is not None else "(none)"


def as_json(statuses: list[FlagStatus], findings: list[Any], base: str | None, now: datetime) -> str:
    items = []
    for s in statuses:
        last = s.last
        items.append(
            {
                "flag": s.name,
                "state": s.position.state,
                "percentage": s.percentage,
                "step": s.step + 1 if s.step is not None else None,
                "plan": [{"state": p.state, "percentage": p.percentage} for p in s.steps],
                "entered_at": clock.iso(s.entered_at) if s.entered_at else None,
                "in_step_seconds": int((now - s.entered_at).total_seconds()) if s.entered_at else None,
                "soak_days": s.soak_days,
                "soak_left_seconds": int(s.soak_left.total_seconds()) if s.soak_left is not None else None,
                "next": None
                if s.next is None
                else {
                    "kind": s.next_kind,
                    "state": s.next.state,
                    "percentage": s.next.percentage,
                    "ready": s.ready,
                    "missing": s.missing,
                    "evidence": s.suggested,
                },
                "last_change": None
                if last is None
                else {
                    "kind": last.kind,
                    "from": last.before.state if last.before else None,
                    "to": last.after.state if last.after else None,
                    "at": clock.iso(last.at) if last.at else None,
                    "commit": last.commit,
                    "reason_code": last.reason_code,
                    "justification": last.justification,
                },
                "change": s.change,
            }
        )
    body = {"ok": not any(f.severity == "error" for f in findings), "base": base, "flags": items, "problems": len(findings)}
    return json.dumps(body, indent=2, ensure_ascii=False)


def as_text(statuses: list[FlagStatus], findings: list[Any], base: str | None, now: datetime, colour: bool) -> str:
    from validator.term import DIM, GREEN, RED, YELLOW, paint, safe

    width = max((len(s.name) for s in statuses), default=0)
    lines = []
    for s in statuses:
        pct = f" {s.percentage}%" if s.position.percentage is None else ""
        head = f"{s.name:<{width}}  {str(s.position) + pct:<14}  {picture(s, colour)}"
        lines.append(head)
        detail = []
        if s.entered_at is not None:
            detail.append(f"in step {human(now - s.entered_at)}")
        if s.soak_days:
            if s.soak_left is None:
                detail.append(f"soak {s.soak_days} d")
            elif s.soak_left:
                detail.append(f"soak {human(s.soak_left)} left")
            else:
                detail.append(f"soak {s.soak_days} d done")
        if s.next is None:
            detail.append(paint("next: none (plan complete)" if s.step is not None else "next: none", DIM, colour))
        elif s.ready:
            runs = f" --evidence {' '.join(s.suggested)}" if s.suggested else ""
            detail.append(paint(f"next: {s.next} ready", GREEN, colour) + f" (flaggate promote {s.name}{runs})")
        else:
            detail.append(paint(f"next: {s.next} not ready", YELLOW, colour) + f": {'; '.join(s.missing)}")
        lines.append("    " + "; ".join(detail))
        if s.last is not None:
            last = s.last
            when = clock.iso(last.at) if last.at else "in the working tree"
            reason = f" {last.reason_code}" if last.reason_code else ""
            why = f": {safe(last.justification, 80)}" if last.justification else ""
            commit = f" {last.commit[:12]}" if last.commit else ""
            lines.append(f"    last: {last.kind} {_pos(last.before)} -> {_pos(last.after)}{reason} {when}{commit}{why}")
        if s.change is not None:
            lines.append("    " + paint(f"this branch: {s.change['kind']} {s.change['summary']}", YELLOW, colour))
    errors = [f for f in findings if f.severity == "error"]
    if errors:
        lines.append(paint(f"flaggate: {len(errors)} problem(s) in the flag files; run `flaggate check`", RED, colour))
    if base is not None:
        lines.append(f"changes judged against {base}")
    return "\n".join(lines)


def main(root: Path, *, fmt: str, base: str | None, now: datetime, colour: bool) -> int:
    statuses, findings = collect(root, now)
    if base is not None:
        _changes(root, statuses, findings, base, now)
    if fmt == "json":
        print(as_json(statuses, findings, base, now))
    else:
        print(as_text(statuses, findings, base, now, colour))
    return 1 if any(f.severity == "error" for f in findings) else 0


def _changes(root: Path, statuses: list[FlagStatus], findings: list[Any], base: str, now: datetime) -> None:
    """With ``--base``: each flag's move against ``base``, as check --base judges it."""
    from validator import check

    result = check.run(root, WorkTree(root), base=base, now=now)
    by_flag = {s.name: s for s in statuses}
    for move in result.transitions:
        target = by_flag.get(move["flag"])
        if target is None:
            continue
        problems = [f.message for f in result.errors if f.flag == move["flag"]]
        before = f"{move['from']}{' ' + str(move['from_percentage']) + '%' if move.get('from_percentage') is not None else ''}"
        after = f"{move['to']}{' ' + str(move['to_percentage']) + '%' if move.get('to_percentage') is not None else ''}"
        target.change = {
            **move,
            "ok": not problems,
            "problems": problems,
            "summary": f"{before} -> {after}" + (f" (refused: {problems[0]})" if problems else " (passes check --base)"),
        }
    findings.extend(f for f in result.findings if f not in findings)
