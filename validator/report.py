"""Reporters, chosen by ``--format``: text, json, github (workflow annotations).

A reporter gets the whole result (findings already collected and sorted) and
returns the text to print; reporters never decide the exit code.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from validator.gate import Judgement

from validator import inert as _inert
from validator.finding import ERROR, WARNING, Finding, sort_key


@dataclass
class Result:
    findings: list[Finding]
    checked: int = 0
    transitions: list[dict[str, Any]] = field(default_factory=list)
    judgement: Judgement | None = None  # the gate's, when checked against a base

    @property
    def errors(self) -> list[Finding]:
        return sorted((f for f in self.findings if f.severity == ERROR), key=sort_key)

    @property
    def warnings(self) -> list[Finding]:
        return sorted((f for f in self.findings if f.severity == WARNING), key=sort_key)

    @property
    def ok(self) -> bool:
        return not self.errors


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


# One definition of what is unsafe and how each output kind renders it
# (validator/inert.py); ``escape`` is the text rendering every reporter uses.
escape = _inert.escape


def text(result: Result) -> str:
    lines = []
    for finding in sorted(result.findings, key=sort_key):
        prefix = "warning: " if finding.severity == WARNING else ""
        lines.append(f"{escape(finding.file)}:{finding.line}:{finding.column}: {escape(finding.rule)}: {prefix}{escape(finding.message)}")
    for move in result.transitions:
        if move["kind"] == "amend":
            from validator.rules.amend import describe

            for change in move.get("changes", []):
                lines.append(f"amend: {escape(move['flag'] or move.get('file'))}: {escape(describe(change))}")
            continue
        lines.append(
            f"transition: {escape(move['flag'])}: {escape(_position(move, 'from'))} -> {escape(_position(move, 'to'))} ({move['kind']})"
        )
    lines.append(summary(result))
    return "\n".join(lines)


def summary(result: Result) -> str:
    errors, warnings = len(result.errors), len(result.warnings)
    if errors:
        # The findings may be in any file (evidence, policy.yaml), so the
        # count of flag files is what was checked, not where the errors are.
        return f"flaggate: {_plural(errors, 'error')}, {_plural(warnings, 'warning')}; {_plural(result.checked, 'flag file')} checked"
    tail = f", {_plural(warnings, 'warning')}" if warnings else ""
    return f"flaggate: ok, {_plural(result.checked, 'flag file')} checked{tail}"


def _position(move: dict[str, Any], side: str) -> str:
    state = move[side]
    if state is None:
        return "(none)"
    pct = move.get(f"{side}_percentage")
    return f"{state} {pct}%" if pct is not None else state


def as_json(result: Result) -> str:
    body = {
        "ok": result.ok,
        "errors": [f.as_json() for f in result.errors],
        "warnings": [f.as_json() for f in result.warnings],
        "transitions": result.transitions,
    }
    # json.dumps escapes C0 controls only; the rest of the unsafe set is
    # written as \\uXXXX too, which decodes to the same string.
    return _inert.json_text(json.dumps(body, indent=2, sort_keys=False, ensure_ascii=False))


def _escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(value: str) -> str:
    return _escape_data(value).replace(":", "%3A").replace(",", "%2C")


def github(result: Result) -> str:
    lines = []
    for finding in sorted(result.findings, key=sort_key):
        level = "warning" if finding.severity == WARNING else "error"
        props = f"file={_escape_property(escape(finding.file))},line={finding.line},col={finding.column},title={_escape_property(escape(finding.rule))}"
        lines.append(f"::{level} {props}::{_escape_data(escape(finding.message))}")
    lines.append(summary(result))
    return "\n".join(lines)


def inert(text: Any, limit: int = 300) -> str:
    """Text from a pull request or a flag file as plain markdown text (``inert.markdown``), table cells included."""
    return _inert.markdown(text, limit)


def markdown(result: Result) -> str:
    """A summary a reviewer reads in ten seconds (job summary, PR comment)."""
    verdict = "passed" if result.ok else "failed"
    lines = [f"### flaggate: {verdict}", "", summary(result), ""]
    if result.transitions:
        lines += ["| flag | from | to | kind |", "|---|---|---|---|"]
        for move in result.transitions:
            lines.append(
                f"| {inert(move['flag'])} | {inert(_position(move, 'from'))} | {inert(_position(move, 'to'))} | {inert(move['kind'])} |"
            )
        lines.append("")
    findings = sorted(result.findings, key=sort_key)
    if findings:
        lines += ["| where | rule | problem |", "|---|---|---|"]
        for f in findings:
            level = "warning: " if f.severity == WARNING else ""
            lines.append(f"| {inert(f'{f.file}:{f.line}:{f.column}')} | {inert(f.rule)} | {level}{inert(f.message, 1000)} |")
    return "\n".join(lines) + "\n"


REPORTERS: dict[str, Callable[[Result], str]] = {"text": text, "json": as_json, "github": github, "markdown": markdown}
FORMATS = (*REPORTERS, "auto")


def resolve(name: str) -> str:
    if name == "auto":
        return "github" if os.environ.get("GITHUB_ACTIONS") else "text"
    return name


def reporter(name: str) -> Callable[[Result], str]:
    return REPORTERS[resolve(name)]
