"""The eight ways outside inputs broke the evidence path and the text output (issue 10).

Each case is run through the real command on a real git repository and must
end in a finding with file, line, column and rule (exit 1), or in an inert
rendering; never ``flaggate: internal error`` (exit 2) or a stall.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, run, run_json
from tests.gitrepo import GOOD_INPUTS, new_repo, set_state, three_runs

NOW = "2026-11-20T12:00:00Z"
RUN_FILE = "evidence/allocation_dual_write/rr-0103.json"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return new_repo(tmp_path)


def promote_with_last_run(repo: Path, raw: str) -> None:
    """Three cited runs, the last one with the bytes ``raw``; the promotion shadow -> enforce."""
    ids = three_runs(repo)
    (repo / RUN_FILE).write_text(raw, encoding="utf-8", errors="surrogatepass")
    set_state(repo, "allocation_dual_write", "enforce", frm="shadow", justification="3 green cycles", evidence=ids)


def good_run(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "run_id": "rr-0103",
        "flag": "allocation_dual_write",
        "seq": 103,
        "flag_state": "shadow",
        "status": "green",
        "started_at": "2026-11-20T01:00:00Z",
        "finished_at": "2026-11-20T01:12:00Z",
        "inputs": dict(GOOD_INPUTS),
    }
    body.update(changes)
    return body


def gate(repo: Path, capsys: pytest.CaptureFixture[str], fmt: str = "json") -> tuple[int, str, str]:
    return run(["check", "--root", str(repo), "--base", "HEAD", "--now", NOW, "--format", fmt], capsys)


def evidence_errors(out: str) -> list[dict[str, Any]]:
    return [e for e in json.loads(out)["errors"] if e["file"] == RUN_FILE]


def line_of(repo: Path, needle: str) -> int:
    for number, line in enumerate((repo / RUN_FILE).read_text(errors="surrogatepass").splitlines(), 1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in the run file")


# 1. A claimed metric with an extreme exponent -------------------------------------------------
@pytest.mark.parametrize(
    ("claim", "expect"),
    [("1e-100", "decimal places"), ("0E-100", "decimal places"), ("1e-999999", "decimal places"), ("1e999999", "out of range")],
)
def test_extreme_exponent_in_a_claim_is_a_finding(claim: str, expect: str, repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inputs = {**GOOD_INPUTS, "failed_ledger_writes": 1}
    raw = json.dumps(good_run(inputs=inputs, metrics={"write_error_rate": "CLAIM"}), indent=2).replace('"CLAIM"', claim)
    promote_with_last_run(repo, raw)
    code, out, err = gate(repo, capsys)
    assert code == 1, err
    [error] = [e for e in evidence_errors(out) if "write_error_rate" in e["message"]]
    assert expect in error["message"]
    assert error["line"] == line_of(repo, '"write_error_rate"')


# 2. Evidence nested deeper than 32 levels ----------------------------------------------------
def test_nesting_deeper_than_32_levels_is_a_finding(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw = json.dumps(good_run(), indent=2)[:-2] + ',\n  "extra": ' + "[" * 40 + "]" * 40 + "\n}\n"
    promote_with_last_run(repo, raw)
    code, out, err = gate(repo, capsys)
    assert code == 1, err
    [error] = evidence_errors(out)
    assert "nesting deeper than 32 levels" in error["message"]
    line = (repo / RUN_FILE).read_text().splitlines()[error["line"] - 1]
    # The run's object is level 1 and 31 brackets reach level 32: the next one opens level 33.
    assert line[: error["column"] - 1].count("[") == 31 and line[error["column"] - 1] == "["


# 3. A time outside the representable UTC range ------------------------------------------------
@pytest.mark.parametrize("finished", ["9999-12-31T23:59:59-23:00", "0001-01-01T00:30:00+01:00"])
def test_time_outside_utc_range_is_a_finding(finished: str, repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    promote_with_last_run(repo, json.dumps(good_run(finished_at=finished), indent=2))
    code, out, err = gate(repo, capsys)
    assert code == 1, err
    [error] = [e for e in evidence_errors(out) if "finished_at" in e["message"]]
    assert "0001-9999" in error["message"]
    assert error["line"] == line_of(repo, '"finished_at"')


# 4. A lone surrogate --------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["text", "json", "github", "markdown"])
def test_lone_surrogate_is_a_finding_in_every_format(fmt: str, repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw = json.dumps(good_run(), indent=2).replace('"allocation_dual_write"', '"allo\\ud800cation_dual_write"')
    promote_with_last_run(repo, raw)
    code, out, err = gate(repo, capsys, fmt)
    assert code == 1, err
    out.encode("utf-8")  # printable: no surrogate reaches the output
    assert "lone surrogate" in out
    if fmt == "json":
        [error] = evidence_errors(out)
        assert (error["line"], error["column"]) == (line_of(repo, "ud800"), 11)


def test_a_valid_surrogate_pair_is_a_character(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    promote_with_last_run(repo, json.dumps(good_run(status="gr\\ud83d\\ude00een"), indent=2).replace("\\\\", "\\"))
    code, out, _ = gate(repo, capsys)
    [error] = evidence_errors(out)
    assert "gr\U0001f600een" in error["message"]


# 5. Positions are found in linear time ---------------------------------------------------------
def test_a_late_duplicate_key_in_a_1_mib_file_does_not_stall(repo: Path) -> None:
    """Not a benchmark (see benchmarks/json_worst_case.py): a guard against the quadratic stall.

    The old position lookup needed minutes for this file; the check now
    takes well under a second, so 60 s only fails on a stall.
    """
    body = json.dumps(good_run(), indent=2)[:-2]
    filler = ",\n".join(f'    "k{i}": 0' for i in range(60_000))
    raw = body + ',\n  "extra": {\n' + filler + '\n  },\n  "status": "red"\n}\n'
    assert 900_000 < len(raw) < 1024 * 1024
    promote_with_last_run(repo, raw)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    argv = [sys.executable, "-m", "validator", "check", "--root", str(repo), "--base", "HEAD", "--now", NOW, "--format", "json"]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 1, result.stderr
    [error] = evidence_errors(result.stdout)
    assert error["message"].startswith("run rr-0103: duplicate key 'status'")
    assert error["line"] == raw.count("\n") - 1  # the last line before the closing brace


# 6. Text output renders every value from a file inert -------------------------------------------
@pytest.mark.parametrize("fmt", ["text", "github"])
def test_a_newline_in_evidence_cannot_start_a_workflow_command(fmt: str, repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hostile = "shadow\n::error file=evil.yaml,line=1::x\x1b[31m\u202e"
    promote_with_last_run(repo, json.dumps(good_run(flag_state=hostile), indent=2))
    code, out, err = gate(repo, capsys, fmt)
    assert code == 1, err
    assert "evil.yaml" in out  # the value is shown ...
    for line in out.splitlines():
        assert "file=evil.yaml" not in line or not line.startswith("::error file=evil")  # ... never as a command
        assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e]", line)
    if fmt == "text":
        assert "shadow\\n::error file=evil.yaml" in out


def test_json_output_escapes_every_control_character(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hostile = "shadow\u0085\u2028\u202e\x9b"
    promote_with_last_run(repo, json.dumps(good_run(flag_state=hostile), indent=2, ensure_ascii=False))
    code, out, _ = gate(repo, capsys)
    assert code == 1
    assert not re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e]", out)
    assert any(hostile in e["message"] for e in evidence_errors(out))  # decodes to the same text


# 7. An event file of another shape -------------------------------------------------------------
@pytest.mark.parametrize(
    "event",
    [
        {"repository": "acme-payments/flags", "pull_request": {"number": 7}},
        {"repository": {"full_name": 7}, "pull_request": {"number": 7}},
        {"repository": {"full_name": "acme-payments/flags"}, "pull_request": "7"},
        [1, 2],
        "[" * 2000 + "]" * 2000,
        '{"pull_request": {"number": 7}, "pull_request": {"number": 8}}',
    ],
    ids=["repository-string", "full-name-number", "pull-request-string", "top-level-list", "deep", "duplicate-key"],
)
def test_event_file_of_another_shape_is_one_line(
    event: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "event.json"
    path.write_text(event if isinstance(event, str) else json.dumps(event))
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(path))
    monkeypatch.setenv("GITHUB_TOKEN", "not-used")
    monkeypatch.delenv("GITHUB_REPOSITORY", raising=False)
    code, out, err = run(["pr-check", "--root", str(new_repo(tmp_path))], capsys)
    assert code == 2
    assert "internal error" not in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and "event file" in err


# 8. Small inconsistencies ----------------------------------------------------------------------
def test_empty_null_key_is_refused_like_tilde(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from validator import loading

    for source in ("? \n: v\n", "~: v\n", "a: 1\n:\n"):
        doc, findings = loading.load("x.yaml", source.encode())
        assert doc is None and findings and findings[0].rule == "yaml", source
    doc, findings = loading.load("x.yaml", b"'': v\n")  # a quoted empty key is a string
    assert doc is not None and doc.data == {"": "v"}


def test_summary_does_not_place_errors_in_flag_files(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    promote_with_last_run(repo, json.dumps(good_run(status="red"), indent=2))
    code, out, _ = gate(repo, capsys, "text")
    assert code == 1
    summary = out.strip().splitlines()[-1]
    assert summary == "flaggate: 1 error, 0 warnings; 6 flag files checked"


def test_bad_now_outside_utc_range_is_a_usage_error(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        run(["check", "--root", str(repo), "--now", "9999-12-31T23:59:59-23:00"], capsys)
    assert exit_.value.code == 2
    assert "0001-9999" in capsys.readouterr().err


def test_run_json_helper_still_refuses_tracebacks(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, report = run_json(["check", "--root", str(repo)], capsys)
    assert (code, report["errors"]) == (0, [])


def test_sample_lines_are_numbered_by_newlines_only(tmp_path: Path) -> None:
    from validator import rollback

    path = tmp_path / "samples.jsonl"
    first = '{"at": "2026-11-20T01:00:00Z", "inputs": {"note\u2028\u0085": 1}, "metrics": {"drift_ppm": 0}}'
    path.write_text(first + '\n{"at": "2026-11-20T02:00:00Z", "metrics": {"drift_ppm": 1e-999999}}\n', encoding="utf-8")
    with pytest.raises(rollback.BadSamples) as refused:
        rollback.read_samples(path)
    assert f"{path}:2:" in str(refused.value) and "decimal places" in str(refused.value)


@pytest.mark.parametrize(
    "argv",
    [
        ["promote", "{name}", "--base", "HEAD", "--justification", "no runs at all"],
        ["demote", "{name}", "--base", "HEAD", "--reason", "DRIFT_BREACH", "--justification", "x"],
        ["rollback-check", "{name}", "--samples", "{samples}"],
        ["plan", "{name}", "--base", "HEAD"],
    ],
    ids=["promote", "demote", "rollback-check", "plan"],
)
def test_a_flag_name_never_reaches_outside_flags(argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``promote ../../x/evil`` once read, judged and rewrote a file outside the repository (attack)."""
    repo = new_repo(tmp_path)
    outside = tmp_path / "x"
    outside.mkdir()
    evil = outside / "evil.yaml"
    evil.write_bytes((repo / "flags/allocation_dual_write.yaml").read_bytes())
    before = evil.read_bytes()
    samples = tmp_path / "samples.jsonl"
    samples.write_text('{"at": "2026-11-20T01:00:00Z", "metrics": {"drift_ppm": 900}}\n')
    args = [a.format(name="../../x/evil", samples=samples) for a in argv]
    code, out, err = run([*args, "--root", str(repo), "--now", "2026-11-20T12:00:00Z"], capsys)
    assert code == 2 and "no flag '../../x/evil'" in err, out + err
    assert evil.read_bytes() == before


def test_a_directory_where_a_file_belongs_is_no_internal_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A directory named like a run, or as .github/CODEOWNERS, gave 'internal error' (attack)."""
    repo = new_repo(tmp_path)
    (repo / "evidence/allocation_dual_write/rr-0001.json").mkdir(parents=True)
    (repo / ".github/CODEOWNERS").mkdir(parents=True)
    for argv in (["plan", "allocation_dual_write"], ["status"], ["codeowners", "--check"]):
        code, out, err = run(
            [*argv, "--root", str(repo), "--now", "2026-11-20T12:00:00Z"] if argv[0] != "codeowners" else [*argv, "--root", str(repo)],
            capsys,
        )
        assert code in (0, 1, 2) and "internal error" not in err, (argv, out, err)


def test_a_fifo_among_the_runs_of_a_promoted_flag_does_not_stall(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The newest-runs rule reads every run of the flag: opening a FIFO there waited for a writer forever."""
    repo = new_repo(tmp_path)
    ids = three_runs(repo)
    os.mkfifo(repo / "evidence/allocation_dual_write/rr-0200.json")
    set_state(repo, "allocation_dual_write", "enforce", frm="shadow", justification="runs", evidence=ids)
    code, out, _ = run(["check", "--root", str(repo), "--base", "HEAD", "--now", "2026-11-20T12:00:00Z"], capsys)
    assert code == 1 and "rr-0200.json is not a regular file" in out, out
