"""``flaggate promote`` / ``demote`` / ``plan``: write a state change correctly, or say what is missing.

The flag file is edited as text at the positions the loader recorded: the
``state`` value, the ``percentage`` line and the ``transition`` block are
replaced, every other byte (comments, order, quoting, line endings) stays.
The result is judged exactly as ``flaggate check --base HEAD`` would judge it,
before anything is written; a change the gate would refuse is never written.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from validator import check, files, loading, plan
from validator.errors import FatalError
from validator.plan import Position
from validator.records import Flag, Policy
from validator.repo import FlagFile, WorkTree, load_policy, read_flag
from validator.report import Result, escape

_SAFE_PLAIN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\Z")


class OverlayTree(WorkTree):
    """The working tree with some files replaced in memory: judge before writing."""

    def __init__(self, root: Path, files: dict[str, bytes]) -> None:
        super().__init__(root)
        self.files = files

    def read(self, path: str) -> bytes | None:
        if path in self.files:
            return self.files[path]
        return super().read(path)


def scalar(value: Any) -> str:
    """A YAML scalar that the strict loader reads back as exactly ``value``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        from validator.jsonout import number

        return number(value)  # never an exponent: 1E-7 would read back as a string
    text = str(value)
    if _SAFE_PLAIN.match(text) and loading.resolve_plain(text) == text:
        return text
    return json.dumps(text, ensure_ascii=False)


def render_transition(fields: dict[str, Any], newline: str) -> str:
    lines = ["transition:"]
    for key, value in fields.items():
        if value is None and key != "from":
            continue
        if isinstance(value, list):
            lines.append(f"  {key}: [{', '.join(scalar(v) for v in value)}]")
        elif isinstance(value, dict):
            lines.append(f"  {key}: {{{', '.join(f'{k}: {scalar(v)}' for k, v in value.items())}}}")
        else:
            lines.append(f"  {key}: {scalar(value)}")
    return newline.join(lines) + newline


@dataclass
class Change:
    flag: str
    path: str
    kind: str
    before: Position
    after: Position
    old_text: str
    new_text: str


def _line_start(text: str, index: int) -> int:
    return text.rfind("\n", 0, index) + 1


def _line_end(text: str, index: int) -> int:
    end = text.find("\n", index)
    return len(text) if end < 0 else end + 1


def rewrite(doc: loading.Document, after: Position, block: dict[str, Any]) -> str:
    """The file's text with the new state, percentage and transition block."""
    text = doc.text
    newline = "\r\n" if "\r\n" in text else "\n"
    edits: list[tuple[int, int, str]] = []  # (start, end, replacement), non-overlapping

    state = doc.marks[("state",)]
    edits.append((state.start, state.end, scalar(after.state)))
    if ("percentage",) in doc.marks:
        key = doc.key_marks[("percentage",)]
        value = doc.marks[("percentage",)]
        if after.percentage is None:
            edits.append((_line_start(text, key.start), _line_end(text, value.end), ""))
        else:
            edits.append((value.start, value.end, str(after.percentage)))
    elif after.percentage is not None:
        end = _line_end(text, state.end)
        edits.append((end, end, f"percentage: {after.percentage}{newline}"))

    if ("transition",) in doc.key_marks:
        start = _line_start(text, doc.key_marks[("transition",)].start)
        end = _section_end(doc, start)
        edits.append((start, end, render_transition(block, newline)))
    else:
        tail = "" if text.endswith("\n") or not text else newline
        edits.append((len(text), len(text), tail + render_transition(block, newline)))

    for start, end, replacement in sorted(edits, reverse=True):
        text = text[:start] + replacement + text[end:]
    return text


def _section_end(doc: loading.Document, start: int) -> int:
    """End of the top-level section at ``start``; comments before the next key stay with that key."""
    text = doc.text
    later = [m.start for p, m in doc.key_marks.items() if len(p) == 1 and m.start > start]
    limit = _line_start(text, min(later)) if later else len(text)
    end = position = start
    while position < limit:
        line_end = _line_end(text, position)
        stripped = text[position:line_end].strip()
        if position == start or (stripped and not stripped.startswith("#")):
            end = line_end
        position = line_end
    return end


def prepare(
    root: Path,
    name: str,
    direction: str,
    *,
    justification: str,
    evidence: list[str],
    reason: str | None,
    metrics: dict[str, Decimal] | None = None,
    to: str | None = None,
) -> Change:
    """The edit for one move of ``name``: ``direction`` promote or demote; ``to`` names the target state of a demote."""
    file = read_flag(root, name)
    if not (file.flag is not None and file.doc is not None):
        raise ValueError("expected a read flag file here: edit.py was called out of order")
    flag = file.flag
    steps = plan.steps(flag)
    at = plan.index(flag)
    legal = plan.moves(steps, at, kill_switch=flag.kill_switch) if at is not None else {}
    if direction == "promote":
        kind = plan.PROMOTE
        target = legal.get(kind)
    else:
        backs = {k: t for k, t in legal.items() if k in (plan.DEMOTE, plan.DISABLE)}
        if to is None:
            kind = plan.DEMOTE if plan.DEMOTE in backs else plan.DISABLE
            target = backs.get(kind)
        else:
            found = [(k, t) for k, t in backs.items() if to in (steps[t].state, str(steps[t]))]
            kind, target = found[0] if found else (plan.DEMOTE, None)
    if target is None:
        wanted = f"{direction} to {to}" if to is not None else direction
        hint = ""
        if to is not None and to == steps[0].state and at is not None and at >= 2 and not flag.kill_switch:
            hint = f"; straight to {steps[0]} only for a flag with `kill_switch: true` (an amend of its own pull request)"
        raise NoMove(
            f"{name} is {plan.position(flag)}: no {wanted} is possible "
            f"(legal moves: {plan.describe_moves(steps, at, kill_switch=flag.kill_switch)}){hint}"
        )
    return change_to(file, target, kind, justification=justification, evidence=evidence, reason=reason, metrics=metrics)


def change_to(
    file: FlagFile,
    target: int,
    kind: str,
    *,
    justification: str,
    evidence: list[str],
    reason: str | None,
    metrics: dict[str, Decimal] | None = None,
) -> Change:
    """The edit that puts ``file``'s flag on step ``target`` of its plan with a transition block for ``kind``."""
    if not (file.flag is not None and file.doc is not None):
        raise ValueError("expected a read flag file here: edit.py was called out of order")
    flag = file.flag
    before, after = plan.position(flag), plan.steps(flag)[target]
    block: dict[str, Any] = {"from": before.state, "to": after.state}
    if before.percentage is not None or after.percentage is not None:
        block["from_percentage"] = before.percentage
        block["to_percentage"] = after.percentage
    block["justification"] = justification
    if kind == plan.PROMOTE:
        block["evidence"] = evidence
    else:
        block["reason_code"] = reason
        block["metrics"] = metrics or None
    new_text = rewrite(file.doc, after, block)
    return Change(flag.name, file.path, kind, before, after, file.doc.text, new_text)


class NoMove(Exception):
    """The plan allows no such move from where the flag is (a finding, exit 1)."""


def judge(root: Path, change: Change | list[Change], now: datetime, base: str = "HEAD") -> Result:
    """The change (one or several files) as ``flaggate check --base BASE`` would judge it (BASE: the pull request's base)."""
    changes = change if isinstance(change, list) else [change]
    tree = OverlayTree(root, {c.path: c.new_text.encode("utf-8") for c in changes})
    return check.run(root, tree, base=base, now=now)


def write_all(root: Path, changes: list[Change]) -> None:
    """Write every changed file atomically; all are written before any is moved into place."""
    files.write_all({root / c.path: c.new_text.encode("utf-8") for c in changes})


write_atomically = files.write_atomically


def diff(change: Change) -> str:
    import difflib

    return "".join(
        difflib.unified_diff(
            change.old_text.splitlines(keepends=True),
            change.new_text.splitlines(keepends=True),
            fromfile=f"a/{change.path}",
            tofile=f"b/{change.path}",
        )
    )


def plan_report(root: Path, name: str, now: datetime, base: str = "HEAD") -> tuple[str, bool]:
    """What the next promotion of ``name`` needs, judged against ``base``, and whether it is ready."""

    file = read_flag(root, name)
    if not (file.flag is not None):
        raise ValueError("expected a read flag file here: edit.py was called out of order")
    path, flag = file.path, file.flag
    policy = load_policy(root)
    steps = plan.steps(flag)
    at = plan.index(flag)
    lines = [f"{name}: {plan.position(flag)} (step {at + 1 if at is not None else '?'} of {len(steps)}: {' -> '.join(map(str, steps))})"]
    legal = plan.moves(steps, at, kill_switch=flag.kill_switch) if at is not None else {}
    back = legal.get(plan.DEMOTE, legal.get(plan.DISABLE))
    if back is not None:
        from validator import reasons

        lines.append(f"emergency: flaggate demote {name} --reason CODE --justification TEXT   ({plan.position(flag)} -> {steps[back]})")
        if plan.DEMOTE in legal and plan.DISABLE in legal:
            lines.append(
                f"kill switch: flaggate demote {name} --to {steps[0]} --reason CODE --justification TEXT   ({plan.position(flag)} -> {steps[0]})"
            )
        try:
            lines.append(f"  reason codes: {reasons.at(root, base).inline()}")
        except FatalError:
            pass  # an unreadable policy is reported by check; the plan still shows the rest
    if plan.PROMOTE not in legal:
        lines.append(f"next: none ({plan.describe_moves(steps, at, kill_switch=flag.kill_switch)})")
        return "\n".join(lines), False
    target = steps[legal[plan.PROMOTE]]
    lines.append(f"next: {target} (promote)")
    suggested: list[str] = []
    if at:
        suggested, notes = _suggest_runs(root, flag, at, now, policy, base)
        lines.extend(notes)
    change = prepare(root, name, "promote", justification="(plan)", evidence=suggested, reason=None)
    result = judge(root, change, now, base)
    lines.insert(1, f"judged against: {base} (what `flaggate check --base {base}` will compare with)")
    mine = [f for f in result.errors if f.flag == name or f.file == path]
    others = [f for f in result.errors if f not in mine]
    if at is not None and flag.rollout[at].soak_days:
        soak = [f for f in mine if f.rule == "soak"]
        lines.append(f"soak: {soak[0].message}" if soak else f"soak: {flag.rollout[at].soak_days} days in {plan.position(flag)}: done")
    for finding in mine:
        if finding.rule != "soak":
            lines.append(f"missing ({finding.rule}): {escape(finding.message)}")
    for finding in others:
        lines.append(f"elsewhere: {escape(finding.file)}:{finding.line}: {finding.rule}: {escape(finding.message)}")
    lines.append(_approvals_needed(flag, steps, legal[plan.PROMOTE], policy))
    ready = not result.errors
    command = f"flaggate promote {name} --justification TEXT" + (f" --evidence {' '.join(suggested)}" if suggested else "")
    lines.append(f"{'ready' if ready else 'not ready'}: {command}")
    return "\n".join(lines), ready


def _usable_since(root: Path, flag: Any, base: str) -> tuple[datetime | None, dict[str, str]]:
    """When the flag entered its current position, and the runs earlier promotions cited, at ``base``."""
    from validator import history, timeline

    try:  # this flag's history only, from the walk kept for it when there is one (``check --base`` keeps it)
        standing = timeline.standings_at(root, history.resolve(root, base), frozenset({flag.name})).get(flag.name)
    except history.HistoryError:
        return None, {}
    if standing is None:
        return None, {}
    return standing.entered_at, standing.cited


def _suggest_runs(root: Path, flag: Flag, at: int, now: datetime, policy: Policy, base: str = "HEAD") -> tuple[list[str], list[str]]:
    """The newest streak of consecutive usable green runs on disk for leaving step ``at``.

    Usable as the gate judges it: green on recomputed metrics, finished after
    the flag entered the step and not after now, and never cited by an earlier
    promotion (a used-up run is never suggested).
    """
    needed = policy.green_runs if policy else 3
    entered_at, cited = _usable_since(root, flag, base)
    left = plan.position(flag)
    best, runs = usable_streak(root, flag, at, now, needed, entered_at, cited)
    notes = [f"evidence: needs {needed} consecutive green runs in {left}; on disk: " + ("" if runs else "none")]
    for run in runs:
        notes.append(f"  {run.run_id} (seq {run.data['seq']}): {_run_word(run, cited, entered_at, now)}")
    if not best:
        state = f"--state {left.state}" + (f" --percentage {left.percentage}" if left.percentage is not None else "")
        notes.append(f"evidence: no {needed} consecutive usable green runs yet; wait for more reconciliation runs in {left}")
        notes.append(
            f"  runs go in evidence/{flag.name}/<run_id>.json (schema/evidence.schema.json); the reconciliation job writes and "
            f"signs them with `flaggate evidence record {flag.name} {state} --seq N --started ... --finished ... "
            "--input NAME=VALUE ... --key FILE`"
        )
    return best, notes


def usable_streak(
    root: Path, flag: Any, at: int, now: datetime, needed: int, entered_at: datetime | None, cited: dict[str, str]
) -> tuple[list[str], list[Any]]:
    """The newest ``needed`` consecutive usable green runs on disk (or none), and every run read, by seq."""
    from validator.rules import evidence as evidence_rule

    directory = root / evidence_rule.EVIDENCE_DIR / flag.name
    guards = [*flag.guards, *flag.rollout[at].guards]
    left = plan.position(flag)
    runs = []
    for path in sorted(directory.glob("*.json")) if directory.is_dir() else []:
        if path.is_symlink() or not path.is_file():
            continue  # not a run file: check reports it (layout), nothing here reads through it
        run = evidence_rule.load_run(flag.name, path.stem, path.read_bytes())
        evidence_rule.judge_run(run, flag.name, left, guards)
        if isinstance(run.data.get("seq"), int) and not isinstance(run.data.get("seq"), bool):
            runs.append(run)
    runs.sort(key=lambda r: r.data["seq"])

    def usable(run: Any) -> bool:
        finished = run.finished_at
        if not run.green or finished is None or finished > now or run.run_id in cited:
            return False
        started = run.started_at
        return entered_at is None or (started is not None and started > entered_at)

    green = [r for r in runs if usable(r)]
    best: list[Any] = []
    for i in range(len(green)):
        block = [green[i]]
        for nxt in green[i + 1 :]:
            if nxt.data["seq"] != block[-1].data["seq"] + 1:
                break
            block.append(nxt)
        if len(block) >= needed:
            best = block[-needed:]
    return [r.run_id for r in best], runs


def _run_word(run: Any, cited: dict[str, str], entered_at: datetime | None, now: datetime) -> str:
    if run.run_id in cited:
        return f"already cited in {cited[run.run_id][:12]}"
    if not run.green:
        why = run.problems[0].message.split(": ", 1)[-1] if run.problems else ""
        return f"not green: {why}" if why else "not green"
    finished, started = run.finished_at, run.started_at
    if finished is not None and finished > now:
        return "finishes after now"
    if started is not None and entered_at is not None and started <= entered_at:
        return "started before the flag entered this step"
    return "green"


def _approvals_needed(flag: Any, steps: Any, target: int, policy: Any) -> str:
    count = (policy.final_step_approvals if plan.is_final(steps, target) else policy.approvals) if policy else 1
    return f"approvals: {count} effective approval{'s' if count != 1 else ''} from an owner: {', '.join(flag.owners)} (checked by `flaggate pr-check`)"
