"""``flaggate status``: every flag at a glance.

For each flag: its state and the percentage services bucket against, its
plan with the current step marked, how long it has been in the step and the
soak left, whether the next promotion is ready (and what is missing: soak,
usable green runs, requirements), and its last change with the reason code.

Cheap by design (the pre-commit budget): the working tree is read as
``flaggate check`` reads it, and git history is read in one pass
(``timeline.events``: one ``git log`` and one ``git cat-file``) only when the
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
from validator.plan import Position
from validator.records import Flag, Policy, Resources
from validator.repo import WorkTree
from validator.rules import soak as soak_rule


@dataclass
class Last:
    kind: str
    before: Position | None
    after: Position | None
    at: datetime | None
    commit: str | None
    reason_code: str | None
    justification: str | None
    entered: datetime | None = None  # when the flag entered ``after``: an amend changes rules, not the step
    step: int | None = None  # the plan step the history puts it at (a position can be on the plan twice)


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


CACHE_FILE = "flaggate-status.json"
CACHE_VERSION = 4


def _git_dir(root: Path) -> Path | None:
    """The git directory of the working tree at or above ``root``, found on disk (no git process)."""
    for candidate in (root, *root.parents):
        dot = candidate / ".git"
        if dot.is_dir():
            return dot
        if dot.is_file():
            text = dot.read_text(errors="replace").strip()
            if text.startswith("gitdir:"):
                target = Path(text[len("gitdir:") :].strip())
                return target if target.is_absolute() else (candidate / target).resolve()
            return None
    return None


def _head_sha(git_dir: Path) -> str | None:
    """HEAD's commit read from the git directory's files; None when unsure (then git is asked)."""
    try:
        head = (git_dir / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head if len(head) in (40, 64) else None
        ref = head[5:]
        common = git_dir
        if (git_dir / "commondir").is_file():
            common = (git_dir / (git_dir / "commondir").read_text().strip()).resolve()
        for base in (git_dir, common):
            if (base / ref).is_file():
                sha = (base / ref).read_text().strip()
                return sha if len(sha) in (40, 64) else None
        packed = common / "packed-refs"
        if packed.is_file():
            for line in packed.read_text().splitlines():
                if line.endswith(" " + ref):
                    return line.split(" ", 1)[0]
    except OSError:
        return None
    return None


def _history(root: Path) -> tuple[dict[str, Last], dict[str, dict[str, str]]]:
    """The last change of each flag and the runs its promotions cited, as of HEAD.

    Read in one pass of ``timeline.events`` and kept in the git directory keyed by
    HEAD's sha (history is a function of that sha alone), so a repeated
    ``flaggate status`` starts no git process at all.
    """
    git_dir = _git_dir(root)
    if git_dir is None:
        return {}, {}
    head = _head_sha(git_dir)
    cache = git_dir / CACHE_FILE
    if head is not None:
        try:
            data = json.loads(cache.read_text())
            if data.get("version") == CACHE_VERSION and data.get("head") == head and data.get("root") == str(root):
                return {k: _last_from(v) for k, v in data["last"].items()}, data["cited"]
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            pass
    from validator import history, timeline

    last: dict[str, Last] = {}
    cited: dict[str, dict[str, str]] = {}
    try:
        found = timeline.events(root, "HEAD")
    except history.HistoryError:
        return {}, {}  # no commit yet, or a shallow clone: status still shows the files
    for event in found:
        if not isinstance(event, timeline.Event) or event.flag is None:
            continue
        t = event.transition or {}
        at = datetime.fromtimestamp(event.commit.effective, UTC)
        earlier = last.get(event.flag)
        stayed = event.before == event.after and earlier is not None and earlier.after == event.after
        last[event.flag] = Last(
            event.kind,
            event.before,
            event.after,
            at,
            event.commit.sha,
            t.get("reason_code") if isinstance(t.get("reason_code"), str) else None,
            t.get("justification") if isinstance(t.get("justification"), str) else None,
            earlier.entered if stayed and earlier is not None else at,
            event.step,
        )
        if event.kind == plan.PROMOTE:
            for run_id in event.evidence:
                cited.setdefault(event.flag, {}).setdefault(run_id, event.commit.sha)
    if head is not None:
        _write_cache(cache, head, root, last, cited)
    return last, cited


def _pos_json(p: Position | None) -> list[Any] | None:
    return [p.state, p.percentage] if p is not None else None


def _last_from(d: dict[str, Any]) -> Last:
    def pos(v: Any) -> Position | None:
        return Position(v[0], v[1]) if v is not None else None

    def when(key: str) -> datetime | None:
        return datetime.fromtimestamp(d[key], UTC) if d.get(key) is not None else None

    step = d.get("step")
    return Last(
        d["kind"],
        pos(d["before"]),
        pos(d["after"]),
        when("at"),
        d["commit"],
        d["reason_code"],
        d["justification"],
        when("entered"),
        step if isinstance(step, int) else None,
    )


def _write_cache(path: Path, head: str, root: Path, last: dict[str, Last], cited: dict[str, dict[str, str]]) -> None:
    body = {
        "version": CACHE_VERSION,
        "head": head,
        "root": str(root),
        "cited": cited,
        "last": {
            name: {
                "kind": x.kind,
                "before": _pos_json(x.before),
                "after": _pos_json(x.after),
                "at": int(x.at.timestamp()) if x.at else None,
                "entered": int(x.entered.timestamp()) if x.entered else None,
                "step": x.step,
                "commit": x.commit,
                "reason_code": x.reason_code,
                "justification": x.justification,
            }
            for name, x in last.items()
        },
    }
    try:
        from validator.edit import write_atomically

        write_atomically(path, json.dumps(body).encode("utf-8"))
    except OSError:
        pass  # a read-only repository: no cache, same answer


def collect(root: Path, now: datetime) -> tuple[list[FlagStatus], list[Any]]:
    snapshot, findings = check_snapshot(WorkTree(root))
    last_events, cited = _history(root)
    policy, resources = snapshot.policy, snapshot.resources
    flags = {name: file.flag for name, file in snapshot.flags.items() if file.flag is not None}
    out = []
    for name, flag in sorted(flags.items()):
        steps = plan.steps(flag)
        here = plan.position(flag)
        # What services bucket against (as publish writes it): 0 in the first state, the canary's value, else 100.
        percentage = flag.percentage if flag.percentage is not None else (0 if flag.state == flag.rollout[0].state else 100)
        status = FlagStatus(name, here, percentage, steps, plan.index(flag))
        event = last_events.get(name)
        block = flag.transition
        if event is not None and event.after == here:
            status.entered_at = event.entered
            status.last = event
            if event.step is not None and event.step < len(steps) and steps[event.step] == here:
                # The history's step, as the gate takes it: the file's transition block is not the record.
                status.step = event.step
        elif block is not None:  # changed in the working tree, not committed yet
            before = Position(block.from_, block.from_percentage) if block.from_ is not None else None
            status.last = Last("uncommitted", before, here, None, None, block.reason_code, block.justification)
        _next_step(root, status, flag, policy, resources, flags, cited.get(name, {}), now)
        out.append(status)
    _confirm(root, [s for s in out if s.ready], now)
    return out, findings


def _confirm(root: Path, statuses: list[FlagStatus], now: datetime) -> None:
    """ "ready" only when the gate agrees: each promotion, with the runs suggested, judged against HEAD.

    The quick reading finds what is plainly missing; only the gate applies every rule (the newest
    runs, signatures, other flags' requirements), and two readers must not disagree.  HEAD is read
    once for all of them (its history where any of them needs it), then each promotion is judged
    on its own.
    """
    if not statuses:
        return
    from validator import check, edit, gate
    from validator.errors import FatalError
    from validator.repo import load_snapshot

    try:
        changes = {
            s.name: edit.prepare(root, s.name, "promote", justification="(status)", evidence=s.suggested, reason=None) for s in statuses
        }
        every = edit.OverlayTree(root, {c.path: c.new_text.encode("utf-8") for c in changes.values()})
        base = gate.load_base(root, "HEAD", load_snapshot(every))
    except (FatalError, edit.NoMove) as exc:
        for status in statuses:
            status.missing.append(f"cannot be judged against HEAD: {exc}")
        return
    for status in statuses:
        change = changes[status.name]
        result = check.judge_change(root, base, edit.OverlayTree(root, {change.path: change.new_text.encode("utf-8")}), now)
        for finding in result.errors:
            if finding.flag == status.name or finding.file == change.path:
                status.missing.append(f"{finding.rule}: {finding.message}")
                if finding.rule == "evidence":
                    status.suggested = []  # never suggest runs the gate refuses


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
            status.soak_left = max(timedelta(0), soak_rule.ready_at(status.entered_at, soak_days) - now)
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
    from validator.inert import json_text

    return json_text(json.dumps(body, indent=2, ensure_ascii=False))


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
