"""Every file under tests/examples/ is a case: adding a case means adding a file.

``invalid/<case>.yaml`` starts with ``# expect: rule@line ...`` (or, when its
bytes cannot carry a comment, has a ``<case>.yaml.expect`` sidecar); the case
replaces ``flags/allocation_dual_write.yaml`` in a copy of this repository and
``flaggate check`` must report exactly those errors in that file, exit 1, and
never a traceback.  ``valid/<case>.yaml`` must pass.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_json

EXAMPLES = Path(__file__).parent / "examples"
TARGET = "flags/allocation_dual_write.yaml"


def _expected(case: Path) -> set[str]:
    sidecar = case.with_name(case.name + ".expect")
    if sidecar.exists():
        text = sidecar.read_text()
    else:
        first = case.read_bytes().split(b"\n", 1)[0].decode()
        assert first.startswith("# expect:"), f"{case.name} has no '# expect:' line"
        text = first[len("# expect:") :]
    return set(text.split())


INVALID = sorted(p for p in (EXAMPLES / "invalid").glob("*.yaml"))
VALID = sorted(p for p in (EXAMPLES / "valid").glob("*.yaml"))


@pytest.mark.parametrize("case", INVALID, ids=lambda p: p.stem)
def test_invalid_example(case: Path, flag_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (flag_repo / TARGET).write_bytes(case.read_bytes())
    code, report = run_json(["check", "--root", str(flag_repo)], capsys)
    assert code == 1
    assert report["ok"] is False
    found = {f"{e['rule']}@{e['line']}" for e in report["errors"] if e["file"] == TARGET}
    assert found == _expected(case), report["errors"]
    for error in report["errors"]:
        assert error["column"] >= 1 and error["message"]


@pytest.mark.parametrize("case", VALID, ids=lambda p: p.stem)
def test_valid_example(case: Path, flag_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (flag_repo / TARGET).write_bytes(case.read_bytes())
    code, report = run_json(["check", "--root", str(flag_repo)], capsys)
    assert (code, report["errors"]) == (0, [])


def test_every_invalid_case_has_an_expectation() -> None:
    assert len(INVALID) >= 40
    for case in INVALID:
        assert _expected(case)
