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
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from validator.gate import Judgement

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


# Characters that change what a terminal, a CI log or a reader sees beyond
# themselves: C0/C1 controls (newline starts a GitHub workflow command, ESC an
# ANSI sequence), line/paragraph separators, bidi overrides and isolates,
# zero-width characters, the BOM, and lone surrogates (unprintable: they would
# crash the UTF-8 encoder of stdout).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ud800-\udfff]")


# What json.dumps leaves raw: C0 controls it escapes itself (and a raw
# newline in its output is indentation).
_UNSAFE_IN_JSON = re.compile(_UNSAFE.pattern.replace("\x00-\x1f", "", 1))


def _escape_char(match: re.Match[str]) -> str:
    code = ord(match.group())
    return {9: "\\t", 10: "\\n", 13: "\\r"}.get(code) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def escape(value: Any) -> str:
    """Any value from a file or the API as one inert line: every unsafe character written as its escape.

    The one rendering function of every reporter: text, github and json
    output never carry a control character from input (``"shadow\\n::error"``
    prints as ``shadow\\n::error`` on one line).
    """
    return _UNSAFE.sub(_escape_char, str(value))


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
    return _UNSAFE_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", json.dumps(body, indent=2, sort_keys=False, ensure_ascii=False))


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
    """Text from a pull request or a flag file as harmless markdown table content.

    No HTML, control or bidi characters escaped (``escape``), no backticks or pipes that break
    out of a cell, and a zero-width space after every ``@`` so nobody is pinged.
    """
    import html

    text = escape(text)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    text = html.escape(text, quote=False)
    text = text.replace("|", "\\|").replace("`", "'").replace("\n", " ").replace("\r", " ")
    return str(text.replace("@", "@\u200b"))


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
