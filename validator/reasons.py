"""Reason codes in sight: the base policy's codes, their meanings, and a "did you mean".

A demote's ``--reason`` is checked against the codes of the policy it will be
judged by (the base's), before anything is prepared, so a typo is one line
naming the codes, never a schema error at a YAML line the user never wrote.
A code that matches only when case is ignored is suggested, never accepted:
the audit log keeps exactly the code the policy defines.

The meaning of each code is the comment after it in ``policy.yaml``
(``- DRIFT_BREACH  # drift_ppm above a rollback threshold``): the policy's
readers see it there, and ``demote --help`` and ``plan`` show the same text.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path

from validator.inert import escape
from validator.repo import POLICY_FILE

_ITEM = re.compile(r"^\s+-\s+([A-Z][A-Z0-9_]*)\s*(?:#\s*(.*?))?\s*$")


@dataclass
class Codes:
    codes: list[str]
    meanings: dict[str, str] = field(default_factory=dict)
    source: str = POLICY_FILE

    # A meaning is a comment from policy.yaml: it is printed escaped (inert.escape), as every value from a file is.
    def listing(self, indent: str = "  ") -> str:
        width = max((len(c) for c in self.codes), default=0)
        return "\n".join(f"{indent}{c.ljust(width)}  {escape(self.meanings.get(c, ''))}".rstrip() for c in self.codes)

    def inline(self) -> str:
        return ", ".join(f"{c} ({escape(self.meanings[c])})" if c in self.meanings else c for c in self.codes)


def meanings(text: str) -> dict[str, str]:
    """The comment after each item of the top-level ``reason_codes:`` list."""
    found: dict[str, str] = {}
    inside = False
    for line in text.splitlines():
        if re.match(r"^reason_codes\s*:", line):
            inside = True
            continue
        if inside:
            if line.strip() == "" or line.lstrip().startswith("#"):
                continue
            if not line[:1].isspace():
                break
            match = _ITEM.match(line)
            if match and match.group(2):
                found[match.group(1)] = match.group(2)
    return found


def at(root: Path, base: str | None) -> Codes:
    """The codes of the policy at ``base`` (else the working tree's): what the demote will be judged by."""
    from validator import history
    from validator.records import Policy
    from validator.repo import WorkTree, _load_model, load_policy

    if base is not None:
        try:
            tree = history.GitTree(root, history.resolve(root, base, whole=False))
            policy, _ = _load_model(tree, POLICY_FILE, Policy, [])
            raw = tree.read(POLICY_FILE)
            if policy is not None and raw is not None:
                return Codes(list(policy.reason_codes), meanings(raw.decode("utf-8", "replace")), f"{POLICY_FILE} at {base}")
        except history.HistoryError:
            pass  # outside git, or no such revision: the working tree's policy is all there is
    work = load_policy(root)
    raw = WorkTree(root).read(POLICY_FILE) or b""
    return Codes(list(work.reason_codes), meanings(raw.decode("utf-8", "replace")))


def suggestion(code: str, codes: list[str]) -> str | None:
    """The code meant by ``code``: the same letters in another case, else the closest spelling or prefix."""
    folded = [c for c in codes if c.casefold() == code.casefold()]
    if folded:
        return folded[0]
    upper = code.upper()
    prefixed = [c for c in codes if c.startswith(upper) or upper.startswith(c)]
    if len(prefixed) == 1:
        return prefixed[0]
    close = difflib.get_close_matches(upper, codes, n=1, cutoff=0.6)
    return close[0] if close else None


def problem(code: str, known: Codes) -> str | None:
    """One message when ``code`` is not a code of ``known`` (None when it is)."""
    if code in known.codes:
        return None
    guess = suggestion(code, known.codes)
    did = f"; did you mean {guess}?" if guess else ""
    return f"--reason {code!r} is not a reason code of {known.source}{did}\nreason codes:\n{known.listing()}"
