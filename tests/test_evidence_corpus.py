"""Bad reconciliation runs as a file corpus: adding a case means adding a file.

Each ``tests/examples/evidence/<case>.json`` is the third of three cited runs
(``rr-0103`` of allocation_dual_write, promoted shadow -> enforce); its
sidecar ``<case>.json.expect`` holds a text the gate's evidence findings must
contain.  Every case is refused (exit 1), pointing at a line of a file.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import REPO, run_json
from tests.gitrepo import new_repo, set_state, three_runs

CORPUS = REPO / "tests/examples/evidence"
CASES = sorted(CORPUS.glob("*.json"))


def test_the_corpus_is_not_empty() -> None:
    assert len(CASES) >= 15 and all(Path(f"{case}.expect").is_file() for case in CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_a_bad_run_is_refused(case: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = new_repo(tmp_path)
    ids = three_runs(repo)
    (repo / "evidence/allocation_dual_write/rr-0103.json").write_bytes(case.read_bytes())
    set_state(repo, "allocation_dual_write", "enforce", frm="shadow", justification="3 green cycles", evidence=ids)
    code, report = run_json(["check", "--root", str(repo), "--base", "HEAD", "--now", "2026-11-20T12:00:00Z"], capsys)
    expect = Path(f"{case}.expect").read_text().strip()
    messages = " | ".join(e["message"] for e in report["errors"] if e["rule"] == "evidence")
    assert code == 1 and expect in messages, (case.name, report["errors"])
    assert all(e["line"] >= 1 and e["column"] >= 1 for e in report["errors"])
