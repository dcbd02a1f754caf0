"""``flaggate promote`` / ``demote`` / ``plan``: write a state change correctly, or say what is missing.

The flag file is edited as text at the positions the loader recorded: the
``state`` value, the ``percentage`` line and the ``transition`` block are
replaced, every other byte (comments, order, quoting, line endings) stays.
The result is judged exactly as ``flaggate check --base HEAD`` would judge it,
before anything is written; a change the gate would refuse is never written.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from validator import check, loading, plan
from validator.plan import Position
from validator.repo import WorkTree, load_policy, read_flag
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
) -> Change:
    file = read_flag(root, name)
    assert file.flag is not None and file.doc is not None
    path, flag = file.path, file.flag
    steps = plan.steps(flag)
    at = plan.index(flag)
    legal = plan.moves(steps, at) if at is not None else {}
    if direction == "promote":
        kind = plan.PROMOTE
    else:
        kind = plan.DEMOTE if plan.DEMOTE in legal else plan.DISABLE
    if kind not in legal:
        raise NoMove(f"{name} is {plan.position(flag)}: no {direction} is possible (legal moves: {plan.describe_moves(steps, at)})")
    before, after = plan.position(flag), steps[legal[kind]]
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
    return Change(name, path, kind, before, after, file.doc.text, new_text)


class NoMove(Exception):
    """The plan allows no such move from where the flag is (a finding, exit 1)."""


def judge(root: Path, change: Change, now: datetime) -> Result:
    tree = OverlayTree(root, {change.path: change.new_text.encode("utf-8")})
    return check.run(root, tree, base="HEAD", now=now)


def write_atomically(path: Path, data: bytes) -> None:
    directory = path.parent
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.chmod(tmp, os.stat(path).st_mode & 0o777)
        except FileNotFoundError:
            os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


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


def plan_report(root: Path, name: str, now: datetime) -> tuple[str, bool]:
    """What the next promotion of ``name`` needs, and whether it is ready."""
    from validator.rules import evidence as evidence_rule

    file = read_flag(root, name)
    assert file.flag is not None
    path, flag = file.path, file.flag
    policy = load_policy(root)
    steps = plan.steps(flag)
    at = plan.index(flag)
    lines = [f"{name}: {plan.position(flag)} (step {at + 1 if at is not None else '?'} of {len(steps)}: {' -> '.join(map(str, steps))})"]
    legal = plan.moves(steps, at) if at is not None else {}
    back = legal.get(plan.DEMOTE, legal.get(plan.DISABLE))
    if back is not None:
        lines.append(f"emergency: flaggate demote {name} --reason CODE --justification TEXT   ({plan.position(flag)} -> {steps[back]})")
    if plan.PROMOTE not in legal:
        lines.append(f"next: none ({plan.describe_moves(steps, at)})")
        return "\n".join(lines), False
    target = steps[legal[plan.PROMOTE]]
    lines.append(f"next: {target} (promote)")
    suggested: list[str] = []
    if at:
        suggested, notes = _suggest_runs(root, flag, at, now, evidence_rule, policy)
        lines.extend(notes)
    change = prepare(root, name, "promote", justification="(plan)", evidence=suggested, reason=None)
    result = judge(root, change, now)
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


def _suggest_runs(root: Path, flag: Any, at: int, now: datetime, evidence_rule: Any, policy: Any) -> tuple[list[str], list[str]]:
    """The newest consecutive green runs on disk for leaving step ``at``."""
    needed = policy.green_runs if policy else 3
    directory = root / evidence_rule.EVIDENCE_DIR / flag.name
    guards = [*flag.guards, *flag.rollout[at].guards]
    left = plan.position(flag)
    runs = []
    for path in sorted(directory.glob("*.json")) if directory.is_dir() else []:
        run = evidence_rule.load_run(flag.name, path.stem, path.read_bytes())
        evidence_rule.judge_run(run, flag.name, left, guards)
        if isinstance(run.data.get("seq"), int):
            runs.append(run)
    runs.sort(key=lambda r: r.data["seq"])
    green = [r for r in runs if r.green and r.finished_at is not None and r.finished_at <= now]
    best: list[Any] = []
    for i in range(len(green)):
        block = [green[i]]
        for nxt in green[i + 1 :]:
            if nxt.data["seq"] != block[-1].data["seq"] + 1:
                break
            block.append(nxt)
        if len(block) >= needed:
            best = block[-needed:]
    notes = [
        f"evidence: needs {needed} consecutive green runs in {left}; on disk: "
        + (", ".join(f"{r.run_id} ({'green' if r.green else 'not green'})" for r in runs) or "none")
    ]
    return [r.run_id for r in best], notes


def _approvals_needed(flag: Any, steps: Any, target: int, policy: Any) -> str:
    count = (policy.final_step_approvals if plan.is_final(steps, target) else policy.approvals) if policy else 1
    return f"approvals: {count} effective approval{'s' if count != 1 else ''} from an owner: {', '.join(flag.owners)} (checked by `flaggate pr-check`)"
