"""Property-based tests (Hypothesis): no input crashes, stalls or speaks for flaggate.

Generators build flag documents, evidence documents and rollback sample
lines, then mutate them at the byte level (flip, cut, insert, duplicate) and
at the token level (a value replaced by a hostile one: extreme exponents,
lone surrogates, control characters, dates at the end of time, deep nesting,
duplicate keys).  For every input:

* nothing but a finding (or the module's own refusal, ``BadSamples``) comes out;
* every finding's position is inside the file it names;
* the same input gives the same findings;
* text, github, json and markdown output never carry a control character
  from the input, and each finding is one line of text output.

Profiles (tests/conftest.py): ``ci`` (default, seeded and bounded: about 20
seconds of one core for this module) and ``long`` (``HYPOTHESIS_PROFILE=long``).  A
failing example is saved under tests/examples/found/ and replayed by
``test_found_examples`` from then on.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import re
import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Context, Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import REPO, copy_repo
from validator import check, rollback
from validator.finding import Finding
from validator.plan import Position
from validator.records import Flag, Guard
from validator.repo import WorkTree, load_flag, read_flag
from validator.report import REPORTERS, Result
from validator.rules import evidence

FOUND = Path(__file__).parent / "examples" / "found"
EXAMPLES = settings.default.max_examples
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
FLAG = "allocation_dual_write"

# --- hostile tokens ------------------------------------------------------------------------------
NASTY_JSON = [
    "1e-100",
    "0E-100",
    "1e-999999",
    "1e999999",
    "-1e+9999",
    "123.456e-789",
    "1e9999999999999999999",
    "NaN",
    "-Infinity",
    "1" * 45,
    "1" * 5000,
    "-0",
    "0.1",
    "true",
    "null",
    "[]",
    "{}",
    '"\\ud800"',
    '"\\udc00\\ud800"',
    '"\\ud83d\\ude00"',
    '"a\\u0000b"',
    '"\\u001b[31m"',
    '"\\u202e"',
    '"\\u2028"',
    '"\\n::error file=evil.yaml,line=1::x"',
    '"\\u0085"',
    '"9999-12-31T23:59:59-23:00"',
    '"0001-01-01T00:30:00+01:00"',
    '"2026-11-20T01:12:00"',
    '"2026-02-30T00:00:00Z"',
    '"../../etc/passwd"',
    "[" * 40 + "]" * 40,
    "[" * 33 + "]" * 33,
    '{"a": 1, "a": 2}',
    '"' + "x" * 300 + '"',
]
NASTY_BYTES = [
    b"\x00",
    b"\xff",
    b"\xed\xa0\x80",
    b"\xef\xbb\xbf",
    b"\x1b[2J",
    b"\r",
    b"\n",
    b"\t",
    "\u202e".encode(),
    "\u2028".encode(),
    b"\xc2\x85",
    b'"',
    b"\\",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b":",
]
NASTY_YAML = [
    "off",
    "~",
    "",
    "''",
    '"\\ud800"',
    '"\\e[31m"',
    '"a\\nb"',
    '"\\x85"',
    '"\\u202e"',
    "&a x",
    "*a",
    "!!python/object:os.system x",
    "<<: {a: 1}",
    "1e-100",
    "0.0000000000000000000000000000000000000001",
    "9" * 45,
    "[" * 40 + "]" * 40,
    "{a: 1, a: 2}",
    "2026-11-20",
    "1:20",
    "017",
    "? \n: v",
    "|\n  x",
    "-1",
    "101",
    "null",
]

_JSON_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|-?[0-9][0-9.eE+-]*|true|false|null')
_YAML_VALUE = re.compile(rb"(?<=: )[^\n#]+|(?<=- )[^\n#]+")


_MUTATIONS = st.integers(0, 4)
_KINDS = st.sampled_from(["token", "token", "flip", "cut", "insert", "nasty", "duplicate", "truncate"])
_XOR = st.integers(1, 255)
_CUT = st.integers(1, 20)
_INSERTED = st.binary(min_size=1, max_size=8)
_NASTY = st.sampled_from(NASTY_BYTES)
_LENGTH = st.integers(1, 60)
_TOKENS = {id(NASTY_JSON): st.sampled_from(NASTY_JSON), id(NASTY_YAML): st.sampled_from(NASTY_YAML)}


def mutate(raw: bytes, data: st.DataObject, *, tokens: list[str], token_pattern: re.Pattern[bytes]) -> bytes:
    """A few byte-level and token-level changes to ``raw``."""
    token_strategy = _TOKENS[id(tokens)] if id(tokens) in _TOKENS else st.sampled_from(tokens)
    for _ in range(data.draw(_MUTATIONS, label="mutations")):
        kind = data.draw(_KINDS, label="kind")
        size = len(raw)
        at = data.draw(st.integers(0, size), label="at")
        if kind == "token":
            spans = [m.span() for m in token_pattern.finditer(raw)]
            if spans:
                start, end = data.draw(st.sampled_from(spans), label="span")
                raw = raw[:start] + data.draw(token_strategy, label="token").encode("utf-8", "surrogatepass") + raw[end:]
        elif kind == "flip" and size:
            i = min(at, size - 1)
            raw = raw[:i] + bytes([raw[i] ^ data.draw(_XOR, label="xor")]) + raw[i + 1 :]
        elif kind == "cut":
            raw = raw[:at] + raw[at + data.draw(_CUT, label="cut") :]
        elif kind == "insert":
            raw = raw[:at] + data.draw(_INSERTED, label="bytes") + raw[at:]
        elif kind == "nasty":
            raw = raw[:at] + data.draw(_NASTY, label="nasty") + raw[at:]
        elif kind == "duplicate":
            end = min(size, at + data.draw(_LENGTH, label="length"))
            raw = raw[:end] + raw[at:end] + raw[end:]
        elif kind == "truncate":
            raw = raw[:at]
    return raw


# --- generators -----------------------------------------------------------------------------------
# Each strategy is built once, here: a strategy built inside a draw is built and validated anew for
# every example, which cost several times what judging the example does.
DECIMAL_TEXT: st.SearchStrategy[str] = st.one_of(
    st.decimals(min_value=0, max_value=10**12, places=2, allow_nan=False, allow_infinity=False).map(str),
    st.sampled_from(["0", "1250000.00", "0.000000000001", "9" * 30, "1,000.00", "-5.00", "1e3", ""]),
)
TIME: st.SearchStrategy[str] = st.one_of(
    st.sampled_from(["2026-11-20T01:12:00Z", "2026-11-19T01:00:00+01:00"]),
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)).map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%S") + "Z"),
    st.builds(
        lambda d, h, sign: d.strftime("%Y-%m-%dT%H:%M:%S") + f"{sign}{h:02d}:00",
        st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)),
        st.integers(0, 23),
        st.sampled_from("+-"),
    ),
)


def _fraction_as_decimal(numerator: int, denominator: int) -> Decimal:
    """What ``st.decimals(allow_nan=False, allow_infinity=False)`` makes of the fraction it draws."""
    value = Fraction(numerator, denominator)
    precision = math.ceil(math.log10(abs(value.numerator) or 1) + math.log10(value.denominator)) + 1
    return Context(prec=precision or 1).divide(Decimal(value.numerator), value.denominator)


# The same values as st.decimals(allow_nan=False, allow_infinity=False), an integer over a positive
# integer written as a decimal, without its flatmap: that built and validated a new strategy for
# every number drawn, a fifth of this module's time.
FINITE_DECIMAL: st.SearchStrategy[Decimal] = st.builds(_fraction_as_decimal, st.integers(), st.integers(min_value=1))
NUMBER: st.SearchStrategy[Any] = st.one_of(
    st.integers(-(10**45), 10**45),
    FINITE_DECIMAL,
    st.sampled_from([Decimal("1e-100"), Decimal("0E-100"), Decimal("1e-999999"), Decimal("1e999999"), Decimal("0.01")]),
)
TEXT: st.SearchStrategy[str] = st.one_of(
    st.text(max_size=30), st.sampled_from(["shadow", "green", FLAG, "shadow\n::error file=evil.yaml,line=1::x"])
)


INPUT_NAMES = ["ledger_total", "legacy_total", "failed_ledger_writes", "total_ledger_writes", "debt_replay", "repairs_attempted"]
METRIC_NAMES = ["drift_ppm", "write_error_rate", "replay_accuracy", "bogus_metric"]
_EVIDENCE_PARTS = {
    "failed_ledger_writes": st.one_of(st.integers(-5, 10**42), NUMBER),
    "total_ledger_writes": st.one_of(st.integers(0, 10**42), NUMBER),
    "more_inputs": st.dictionaries(st.sampled_from(INPUT_NAMES), st.one_of(NUMBER, DECIMAL_TEXT), max_size=3),
    "run_id": st.one_of(st.just("rr-0103"), TEXT),
    "flag": st.one_of(st.just(FLAG), TEXT),
    "seq": st.one_of(st.integers(-(10**42), 10**42), NUMBER),
    "flag_state": st.one_of(st.just("shadow"), TEXT),
    "status": st.one_of(st.just("green"), TEXT),
    "metrics": st.dictionaries(st.sampled_from(METRIC_NAMES), NUMBER, max_size=3),
    "flag_percentage": st.integers(-1, 101),
    "extra_value": st.one_of(NUMBER, TEXT),
}


@st.composite
def evidence_documents(draw: Callable[..., Any]) -> dict[str, Any]:
    part = _EVIDENCE_PARTS
    inputs: dict[str, Any] = {
        "ledger_total": draw(DECIMAL_TEXT),
        "legacy_total": draw(DECIMAL_TEXT),
        "failed_ledger_writes": draw(part["failed_ledger_writes"]),
        "total_ledger_writes": draw(part["total_ledger_writes"]),
    }
    inputs.update(draw(part["more_inputs"]))
    body: dict[str, Any] = {
        "run_id": draw(part["run_id"]),
        "flag": draw(part["flag"]),
        "seq": draw(part["seq"]),
        "flag_state": draw(part["flag_state"]),
        "status": draw(part["status"]),
        "started_at": draw(TIME),
        "finished_at": draw(TIME),
        "inputs": inputs,
    }
    if draw(st.booleans()):
        body["metrics"] = draw(part["metrics"])
    if draw(st.booleans()):
        body["flag_percentage"] = draw(part["flag_percentage"])
    if draw(st.booleans()):
        body[draw(TEXT)] = draw(part["extra_value"])
    return body


def dump(value: Any, ascii_only: bool) -> str:
    """JSON text of ``value``; Decimals written as they are (json.dumps would need floats)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k, ensure_ascii=ascii_only)}: {dump(v, ascii_only)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(dump(v, ascii_only) for v in value) + "]"
    if isinstance(value, Decimal):
        return str(value)
    return json.dumps(value, ensure_ascii=ascii_only)


# --- the properties --------------------------------------------------------------------------------
_UNSAFE_OUTPUT = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")


def assert_sound(findings: list[Finding], files: dict[str, bytes]) -> None:
    """Every finding is placed inside its file and renders inert in every format."""
    for finding in findings:
        assert isinstance(finding, Finding) and finding.message and finding.rule
        raw = files.get(finding.file)
        if raw is not None:
            lines = raw.decode("utf-8", "replace").split("\n")
            assert 1 <= finding.line <= len(lines), finding
            assert 1 <= finding.column <= len(lines[finding.line - 1]) + 1, finding
    result = Result(findings, checked=1)
    for name, render in REPORTERS.items():
        out = render(result)
        out.encode("utf-8")  # printable as UTF-8
        assert not _UNSAFE_OUTPUT.search(out), (name, out)
        if name == "text":
            assert len(out.split("\n")) == len(findings) + 1
        if name == "github":
            assert all(line.startswith(("::error ", "::warning ", "flaggate: ")) for line in out.split("\n"))


def save_found(kind: str, raw: bytes) -> None:
    """Keep a failing example as a file, so it is replayed by every later run."""
    from hypothesis.control import current_build_context

    if not getattr(current_build_context(), "is_final", True):
        return  # only the shrunk example Hypothesis reports, not each step of shrinking
    FOUND.mkdir(exist_ok=True)
    (
        FOUND / f"{kind}-{hashlib.sha256(raw).hexdigest()[:16]}.{ {'evidence': 'json', 'flag': 'yaml', 'samples': 'jsonl'}[kind] }"
    ).write_bytes(raw)


def judge_evidence(raw: bytes) -> list[Finding]:
    """The evidence rule's reading of one run file cited for leaving shadow, with its time checks."""
    run = evidence.load_run(FLAG, "rr-0103", raw)
    evidence.judge_run(
        run, FLAG, Position("shadow"), [Guard(metric="drift_ppm", max=Decimal(500)), Guard(metric="write_error_rate", max=Decimal("0.01"))]
    )
    finished = run.finished_at
    if finished is not None and (finished > NOW or NOW - finished > timedelta(days=3)):
        run.add(("finished_at",), "too new or too old", FLAG)
    return run.problems


def check_evidence(raw: bytes) -> None:
    try:
        first = judge_evidence(raw)
        assert judge_evidence(raw) == first  # the same input gives the same findings
        assert_sound(first, {"evidence/allocation_dual_write/rr-0103.json": raw})
    except BaseException:
        save_found("evidence", raw)
        raise


@pytest.mark.heavy(4)
@settings(max_examples=EXAMPLES)
@given(evidence_documents(), st.booleans(), st.data())
def test_evidence_documents(body: dict[str, Any], ascii_only: bool, data: st.DataObject) -> None:
    raw = mutate(dump(body, ascii_only).encode("utf-8", "surrogatepass"), data, tokens=NASTY_JSON, token_pattern=_JSON_TOKEN)
    check_evidence(raw)


# --- flag documents ---------------------------------------------------------------------------------
FLAG_SOURCES = sorted((REPO / "flags").glob("*.yaml")) + sorted((REPO / "tests" / "examples" / "valid").glob("*.yaml"))


def overwrite(path: Path, raw: bytes) -> None:
    """``path.write_bytes(raw)`` without truncating the file to nothing first.

    ext4 flushes a file truncated to nothing and written again when it is closed (its guard for
    programs that rewrite in place without fsync), which made every example wait for the disk."""
    with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o644), "wb") as handle:
        handle.write(raw)
        handle.truncate()


def check_flag(raw: bytes, root: Path | None = None) -> None:
    path = f"flags/{FLAG}.yaml"
    try:
        file, first = load_flag(path, raw)
        assert load_flag(path, raw)[1] == first
        assert_sound(first, {path: raw})
        if root is not None:  # the whole check of a tree holding this file
            overwrite(root / path, raw)
            findings = check.run(root, WorkTree(root)).findings
            assert check.run(root, WorkTree(root)).findings == findings
            assert_sound(findings, {path: raw})
    except BaseException:
        save_found("flag", raw)
        raise


@pytest.mark.heavy(3)
@settings(max_examples=EXAMPLES)
@given(st.sampled_from(FLAG_SOURCES), st.data())
def test_flag_documents(source: Path, data: st.DataObject) -> None:
    raw = mutate(source.read_bytes(), data, tokens=NASTY_YAML, token_pattern=_YAML_VALUE)
    check_flag(raw)


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_repo(tmp_path_factory.mktemp("tree") / "repo")


@pytest.mark.heavy(10)
@settings(max_examples=EXAMPLES)
@given(source=st.sampled_from(FLAG_SOURCES), data=st.data())
def test_flag_documents_in_a_whole_tree(tree: Path, source: Path, data: st.DataObject) -> None:
    raw = mutate(source.read_bytes(), data, tokens=NASTY_YAML, token_pattern=_YAML_VALUE)
    check_flag(raw, tree)


# --- rollback sample lines -----------------------------------------------------------------------------
_SAMPLE_METRICS = st.dictionaries(st.sampled_from(METRIC_NAMES), NUMBER, max_size=2)
_FAILED_WRITES = st.integers(-1, 10**41)
_TOTAL_WRITES = st.integers(0, 10**41)


@st.composite
def sample_lines(draw: Callable[..., Any]) -> str:
    lines = []
    for _ in range(draw(st.integers(1, 4))):
        body: dict[str, Any] = {"at": draw(TIME)}
        if draw(st.booleans()):
            body["metrics"] = draw(_SAMPLE_METRICS)
        if draw(st.booleans()):
            body["inputs"] = {
                "ledger_total": draw(DECIMAL_TEXT),
                "legacy_total": draw(DECIMAL_TEXT),
                "failed_ledger_writes": draw(_FAILED_WRITES),
                "total_ledger_writes": draw(_TOTAL_WRITES),
            }
        lines.append(dump(body, draw(st.booleans())))
    return "\n".join(lines) + "\n"


@functools.cache
def repo_flag() -> Flag:
    """This repository's flag the samples are judged against (read once: it is the same for every example)."""
    flag = read_flag(REPO, FLAG).flag
    assert flag is not None
    return flag


def check_samples(raw: bytes, directory: Path) -> None:
    path = directory / "samples.jsonl"
    overwrite(path, raw)
    try:
        try:
            samples = rollback.read_samples(path)
        except rollback.BadSamples as exc:
            message = str(exc)
            assert message and "\n" not in message.strip()
            return
        report = rollback.evaluate(repo_flag(), samples, since=None, now=None)
        rollback.render(report).encode("utf-8")
    except BaseException:
        save_found("samples", raw)
        raise


@pytest.fixture(scope="module")
def samples_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # One directory for every example: each writes its own samples.jsonl over the last one's
    # (a directory per example left a thousand behind, each to be created and later deleted).
    return tmp_path_factory.mktemp("samples")


@pytest.mark.heavy(4)
@settings(max_examples=EXAMPLES)
@given(sample_lines(), st.data())
def test_sample_lines(samples_dir: Path, text: str, data: st.DataObject) -> None:
    raw = mutate(text.encode("utf-8", "surrogatepass"), data, tokens=NASTY_JSON, token_pattern=_JSON_TOKEN)
    check_samples(raw, samples_dir)


# --- every example ever found stays a test --------------------------------------------------------------
@pytest.mark.parametrize("case", sorted(FOUND.glob("*.*")) if FOUND.exists() else [], ids=lambda p: p.name)
def test_found_examples(case: Path, tmp_path: Path) -> None:
    raw = case.read_bytes()
    kind = case.name.split("-", 1)[0]
    if kind == "evidence":
        check_evidence(raw)
    elif kind == "flag":
        root = copy_repo(tmp_path / "repo")
        check_flag(raw, root)
    else:
        check_samples(raw, tmp_path)
    shutil.rmtree(tmp_path, ignore_errors=True)
