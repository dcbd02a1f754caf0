"""One YAML reader: libyaml's C parser, on every machine.

PyYAML's pure-Python parser disagrees with libyaml on inputs of the example
corpus (tabs, indentation, which errors and where), so it is not a fallback:
without libyaml, flaggate cannot decide (exit 2) rather than read flag files
another way.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run
from validator import loading


def test_libyaml_is_the_reader() -> None:
    assert loading._Parser is not None, "this PyYAML has no libyaml: flaggate refuses to read YAML with it"


def test_without_libyaml_flaggate_cannot_decide(
    flag_repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(loading, "_Parser", None)
    code, out, err = run(["check", "--root", str(flag_repo)], capsys)
    assert code == 2 and "without libyaml" in err and "Traceback" not in err, (out, err)
