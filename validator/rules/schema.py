"""schema: the file's structure matches ``schema/<kind>.schema.json``.

Keys, types and value formats: an unknown key (reported at the key itself,
with the nearest known key suggested), a missing key (reported at the mapping
it is missing from), a wrong type (``state: true`` where a state name is
expected), a percentage outside 0..100, an owner that is not a GitHub login
or ``org/team``.  Every structural error of a file is reported in one run.

Passing::

    state: off          # unquoted off stays the string "off"

Failing::

    stat: off           # schema: unknown key 'stat' (did you mean 'state'?)
"""

from __future__ import annotations

from functools import cache
from typing import Any, TypeVar, cast

from validator.finding import Finding
from validator.loading import Document
from validator.record import Invalid, Record
from validator.records import READERS

RULE = "schema"

R = TypeVar("R", bound=Record)


def validate(doc: Document, record: type[R], *, flag: str | None = None) -> tuple[R | None, list[Finding]]:
    """The record, or None and every structural finding of the document.

    The generated reader is the fast path (microseconds); only a document it
    rejects pays for jsonschema's exhaustive, well-positioned error collection.
    """
    try:
        return cast(R, READERS[record](doc.data)), []
    except Invalid as invalid:
        findings = _jsonschema_findings(doc, record.__name__, flag)
        if not findings:  # the JSON Schema cannot say it (a mapping's keys); the reader can
            line, column = doc.where(invalid.path, key=invalid.key)
            findings = [Finding(doc.path, line, column, RULE, f"{_where(invalid.path)}{invalid.message}", flag)]
        return None, sorted(set(findings))


@cache
def _validator(name: str) -> Any:
    import json

    import jsonschema  # slow to import: only files that fail pay for it

    from validator.schema_files import rendered

    schema = json.loads(rendered()[_FILES[name]])
    return jsonschema.Draft202012Validator(_inlined(schema, schema.get("$defs", {}), ()))


_FILES = {"Flag": "flag.schema.json", "Policy": "policy.schema.json", "Resources": "resources.schema.json"}


def _inlined(node: Any, defs: dict[str, Any], within: tuple[str, ...]) -> Any:
    """The schema with each plain local ``$ref`` replaced by its definition.

    The errors are the same (jsonschema passes a reference's errors through unchanged); what
    changes is that a failing file no longer pays for a registry lookup per reference visited,
    most of the time it took.  A definition that refers to itself stays a reference.
    """
    if isinstance(node, list):
        return [_inlined(item, defs, within) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if len(node) == 1 and isinstance(ref, str) and ref.startswith("#/$defs/"):
        name = ref[len("#/$defs/") :]
        if name in defs and name not in within:
            return _inlined(defs[name], defs, (*within, name))
        return node
    return {key: (value if key == "$defs" else _inlined(value, defs, within)) for key, value in node.items()}


def _jsonschema_findings(doc: Document, name: str, flag: str | None) -> list[Finding]:
    findings: list[Finding] = []
    for found in _validator(name).iter_errors(doc.data):
        error = _branch(found)  # in "X or null", the X branch's error (an unknown key of the transition)
        path = tuple(error.absolute_path)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            known = list(error.schema.get("properties", {}))
            for key in error.instance:
                if key not in known:
                    line, column = doc.where(path + (key,), key=True)
                    findings.append(Finding(doc.path, line, column, RULE, _unknown_key(key, known, path), flag))
            continue
        line, column = doc.where(path)
        findings.append(Finding(doc.path, line, column, RULE, f"{_where(path)}{_message(error)}", flag))
    return findings


def _branch(error: Any) -> Any:
    """For "X or null" fields, the X branch's deepest error: it names the field that is wrong."""
    while error.validator in ("anyOf", "oneOf") and error.context:
        branches = [e for e in error.context if e.schema.get("type") != "null"]
        if not branches:
            break
        error = max(branches, key=lambda e: len(e.absolute_path))
    return error


# Fields as people know them: the words the README and the commands' options use.
_WORDS = {
    "justification": "why the change is made, --justification",
    "reason_code": "--reason, one of policy.yaml's reason_codes",
    "evidence": "the cited reconciliation runs, --evidence",
    "owners": "GitHub logins or org/team",
    "description": "the description",
    "states": "the list of states",
    "state": "the current state",
    "percentage": "the canary percentage",
    "rollout": "the rollout plan",
    "soak_days": "days to soak in the step",
    "guards": "the guards",
    "rollback": "the rollback triggers",
    "threshold": "the trigger's threshold",
    "metric": "the metric name",
    "requires": "the requirements",
    "name": "the flag's name",
}


def _where(path: tuple[Any, ...]) -> str:
    if not path:
        return ""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    leaf = next((p for p in reversed(path) if isinstance(p, str)), None)
    words = _WORDS.get(leaf) if leaf is not None else None
    return f"{text} ({words}): " if words else f"{text}: "


def _unknown_key(key: str, known: list[str], path: tuple[Any, ...]) -> str:
    where = f" in {_where(path)[:-2]}" if path else ""
    import difflib  # only an unknown key pays for it

    guess = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    hint = f" (did you mean {guess[0]!r}?)" if guess else f"; known keys: {', '.join(known)}"
    return f"unknown key {key!r}{where}{hint}"


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if value is None:
        return "null"
    if isinstance(value, (dict, list)):
        return "a mapping" if isinstance(value, dict) else "a list"
    return repr(value) if isinstance(value, str) else f"the number {value}"


def _message(error: Any) -> str:
    if error.validator in ("anyOf", "oneOf") and error.context:
        # Optional fields are "X or null": the X branch says what was meant.
        branches = [e for e in error.context if e.schema.get("type") != "null"]
        if branches:
            return _message(min(branches, key=lambda e: len(e.absolute_path)))
    if error.validator == "type":
        expected = error.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        return f"expected {_article(expected)}, got {_describe(error.instance)}"
    if error.validator == "required":
        return str(error.message).replace("is a required property", "is missing (required)")
    if error.validator == "pattern":
        wanted = error.schema.get("description") or f"a match for {error.validator_value}"
        return f"{_describe(error.instance)} is not {wanted}"
    if error.validator == "enum":
        choices = ", ".join(str(c) for c in error.validator_value)
        return f"{_describe(error.instance)} is not one of: {choices}"
    if error.validator == "minLength":
        return "must not be empty" if error.validator_value == 1 else f"needs at least {error.validator_value} characters"
    if error.validator == "maxLength":
        return f"is {len(error.instance)} characters long; at most {error.validator_value} are allowed"
    if error.validator == "minItems":
        n = error.validator_value
        return f"needs at least {n} item{'s' if n != 1 else ''}, got {len(error.instance)}"
    if error.validator == "minimum":
        return f"{_describe(error.instance)} is below the minimum {error.validator_value}"
    if error.validator == "maximum":
        return f"{_describe(error.instance)} is above the maximum {error.validator_value}"
    return str(error.message)


def _article(kind: str) -> str:
    return {"integer": "a whole number", "array": "a list", "object": "a mapping"}.get(kind, f"a {kind}")
