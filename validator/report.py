"""Reporters, chosen by ``--format``: text, json, github (workflow annotations).

A reporter gets the whole result (findings already collected and sorted) and
returns the text to print; reporters never decide the exit code.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from validator.finding import ERROR, WARNING, Finding, sort_key


@dataclass
class Result:
    findings: list[Finding]
    checked: int = 0
    transitions: list[dict[str, Any]] = field(default_factory=list)
    judgement: Any = None  # the gate's Judgement when checked against a base

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


def text(result: Result) -> str:
    lines = []
    for finding in sorted(result.findings, key=sort_key):
        prefix = "warning: " if finding.severity == WARNING else ""
        lines.append(f"{finding.file}:{finding.line}:{finding.column}: {finding.rule}: {prefix}{finding.message}")
    for move in result.transitions:
        if move["kind"] == "amend":
            from validator.rules.amend import describe

            for change in move.get("changes", []):
                lines.append(f"amend: {move['flag'] or move.get('file')}: {describe(change)}")
            continue
        lines.append(f"transition: {move['flag']}: {_position(move, 'from')} -> {_position(move, 'to')} ({move['kind']})")
    lines.append(summary(result))
    return "\n".join(lines)


def summary(result: Result) -> str:
    errors, warnings = len(result.errors), len(result.warnings)
    if errors:
        return f"flaggate: {_plural(errors, 'error')}, {_plural(warnings, 'warning')} in {_plural(result.checked, 'flag file')}"
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
    return json.dumps(body, indent=2, sort_keys=False, ensure_ascii=False)


def _escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(value: str) -> str:
    return _escape_data(value).replace(":", "%3A").replace(",", "%2C")


def github(result: Result) -> str:
    lines = []
    for finding in sorted(result.findings, key=sort_key):
        level = "warning" if finding.severity == WARNING else "error"
        props = f"file={_escape_property(finding.file)},line={finding.line},col={finding.column},title={_escape_property(finding.rule)}"
        lines.append(f"::{level} {props}::{_escape_data(finding.message)}")
    lines.append(summary(result))
    return "\n".join(lines)


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def inert(text: Any, limit: int = 300) -> str:
    """Text from a pull request or a flag file as harmless markdown table content.

    No HTML, no control or bidi characters, no backticks or pipes that break
    out of a cell, and a zero-width space after every ``@`` so nobody is pinged.
    """
    import html

    text = _CONTROL.sub("", str(text))
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    text = html.escape(text, quote=False)
    text = text.replace("|", "\\|").replace("`", "'").replace("\n", " ").replace("\r", " ")
    return text.replace("@", "@\u200b")


def markdown(result: Result) -> str:
    """A summary a reviewer reads in ten seconds (job summary, PR comment)."""
    verdict = "passed" if result.ok else "failed"
    lines = [f"### flaggate: {verdict}", "", summary(result), ""]
    if result.transitions:
        lines += ["| flag | from | to | kind |", "|---|---|---|---|"]
        for move in result.transitions:
            lines.append(f"| {inert(move['flag'])} | {inert(_position(move, 'from'))} | {inert(_position(move, 'to'))} | {move['kind']} |")
        lines.append("")
    findings = sorted(result.findings, key=sort_key)
    if findings:
        lines += ["| where | rule | problem |", "|---|---|---|"]
        for f in findings:
            level = "warning: " if f.severity == WARNING else ""
            lines.append(f"| {inert(f'{f.file}:{f.line}:{f.column}')} | {f.rule} | {level}{inert(f.message, 1000)} |")
    return "\n".join(lines) + "\n"


REPORTERS: dict[str, Callable[[Result], str]] = {"text": text, "json": as_json, "github": github, "markdown": markdown}
FORMATS = (*REPORTERS, "auto")


def resolve(name: str) -> str:
    if name == "auto":
        return "github" if os.environ.get("GITHUB_ACTIONS") else "text"
    return name


def reporter(name: str) -> Callable[[Result], str]:
    return REPORTERS[resolve(name)]
