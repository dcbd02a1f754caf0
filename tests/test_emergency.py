"""The 3 a.m. path: cascading demotes, per-flag kill switches, reason codes in sight, metrics recorded.

Every scenario runs on a real git repository; the pre-commit hook is the real
``pre-commit`` running this package's ``flaggate check`` on ``git commit``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import GIT_ENV, run, run_json
from tests.gitrepo import DUAL, commit_all, flag_path, git, new_repo, set_state

NOW = "2026-11-20T12:00:00Z"
BACKFILL = "flags/ledger_backfill_mode.yaml"


def _bin(name: str) -> str:
    found = Path(sys.executable).parent / name
    return str(found) if found.exists() else (shutil.which(name) or name)


def _hooked_commit(repo: Path, message: str) -> subprocess.CompletedProcess[str]:
    """``git commit`` with the pre-commit hook installed: the hook runs `flaggate check` as a user's would."""
    env = {
        **os.environ,
        **GIT_ENV,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "PRE_COMMIT_HOME": str(Path(os.environ.get("TMPDIR", "/tmp")) / "flaggate-pre-commit-cache"),
        "GIT_AUTHOR_DATE": "2026-11-20T02:20:00Z",
        "GIT_COMMITTER_DATE": "2026-11-20T02:20:00Z",
    }
    subprocess.run(["git", "add", "-A"], cwd=repo, env=env, check=True)
    return subprocess.run(["git", "commit", "-q", "-m", message], cwd=repo, env=env, capture_output=True, text=True)


def _install_hook(repo: Path) -> None:
    (repo / ".pre-commit-config.yaml").write_text(
        "repos:\n  - repo: local\n    hooks:\n"
        "      - {id: flaggate-check, name: flaggate check, entry: flaggate check, language: system, pass_filenames: false}\n"
    )
    commit_all(repo, "pre-commit hook", "2026-11-03T00:00:00Z")
    env = {**os.environ, **GIT_ENV, "PRE_COMMIT_HOME": str(Path(os.environ.get("TMPDIR", "/tmp")) / "flaggate-pre-commit-cache")}
    subprocess.run([_bin("pre-commit"), "install"], cwd=repo, env=env, check=True, capture_output=True)


@pytest.fixture
def stranded(tmp_path: Path) -> Path:
    """The issue's scenario: the backfill in read_only requires dual write in shadow."""
    repo = new_repo(tmp_path)
    set_state(repo, "ledger_backfill_mode", "read_only", frm="off", evidence=[])
    commit_all(repo, "backfill read only", "2026-11-02T00:00:00Z")
    return repo


def test_a_demote_that_would_strand_a_dependent_cascades_and_ships(
    stranded: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = stranded
    if shutil.which(_bin("pre-commit")) is None and not Path(_bin("pre-commit")).exists():
        pytest.skip("pre-commit is not installed")
    _install_hook(repo)
    git(repo, "switch", "-q", "-c", "demote-dual-write")
    code, out, err = run(
        [
            "demote",
            "allocation_dual_write",
            "--root",
            str(repo),
            "--base",
            "main",
            "--now",
            NOW,
            "--reason",
            "DRIFT_BREACH",
            "--justification",
            "drift 812 ppm at 02:10",
            "--metrics",
            "drift_ppm=812",
        ],
        capsys,
    )
    assert code == 0, out + err
    lines = out.splitlines()
    assert lines[0] == "disable: allocation_dual_write: shadow -> off (DRIFT_BREACH)"
    assert lines[1].startswith("cascade: disable: ledger_backfill_mode: read_only -> off (DRIFT_BREACH): ")
    assert "requires allocation_dual_write in shadow" in lines[1]
    assert lines[2] == f"wrote {DUAL} {BACKFILL}; commit them and open a pull request"
    backfill = flag_path(repo, "ledger_backfill_mode").read_text()
    assert "reason_code: DRIFT_BREACH" in backfill and "Cascade of the emergency demote of allocation_dual_write" in backfill
    assert "metrics: {drift_ppm: 812}" in flag_path(repo, "allocation_dual_write").read_text()

    # check, check --base: the same verdict, nothing left for later.
    assert run(["check", "--root", str(repo)], capsys)[0] == 0
    code, report = run_json(["check", "--root", str(repo), "--base", "main", "--now", NOW], capsys)
    assert (code, report["errors"], report["warnings"]) == (0, [], [])
    assert sorted((t["flag"], t["kind"]) for t in report["transitions"]) == [
        ("allocation_dual_write", "disable"),
        ("ledger_backfill_mode", "disable"),
    ]
    # The real pre-commit hook lets the commit through.
    committed = _hooked_commit(repo, "Emergency: disable dual write (DRIFT_BREACH)")
    assert committed.returncode == 0, committed.stdout + committed.stderr
    git(repo, "switch", "-q", "main")
    git(repo, "merge", "-q", "--no-ff", "demote-dual-write", "-m", "Merge: emergency demote", date="2026-11-20T02:30:00Z")
    code, out, err = run(["publish", "--root", str(repo), "--out", str(tmp_path / "public")], capsys)
    assert code == 0, out + err
    config = json.loads((tmp_path / "public" / "config.json").read_text())
    assert config["flags"]["allocation_dual_write"]["state"] == "off" and config["flags"]["ledger_backfill_mode"]["state"] == "off"
    log = json.loads((tmp_path / "public" / "audit-log.json").read_text())
    entries = log["entries"] if isinstance(log, dict) else log
    last = {e["flag"]: e for e in entries if e.get("reason_code") == "DRIFT_BREACH"}
    assert set(last) == {"allocation_dual_write", "ledger_backfill_mode"}
    assert last["allocation_dual_write"]["metrics"] == {"drift_ppm": 812}
    assert "allocation_dual_write" in last["ledger_backfill_mode"]["justification"]


def test_hand_demote_without_the_dependent_is_refused_by_the_hook(stranded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = stranded
    if not Path(_bin("pre-commit")).exists() and shutil.which("pre-commit") is None:
        pytest.skip("pre-commit is not installed")
    _install_hook(repo)
    set_state(repo, "allocation_dual_write", "off", frm="shadow", reason="DRIFT_BREACH")
    committed = _hooked_commit(repo, "dual write off, by hand")
    assert committed.returncode != 0
    assert "dependency: ledger_backfill_mode is read_only" in committed.stdout + committed.stderr
    code, report = run_json(["check", "--root", str(repo), "--base", "HEAD", "--now", NOW], capsys)
    assert code == 1 and {e["rule"] for e in report["errors"]} == {"dependency"}


def test_cascade_that_no_legal_move_can_satisfy_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = new_repo(tmp_path)
    set_state(repo, "ledger_backfill_mode", "read_only", frm="off", evidence=[])
    commit_all(repo, "read only", "2026-11-02T00:00:00Z")
    set_state(repo, "ledger_backfill_mode", "active", frm="read_only", evidence=[])
    commit_all(repo, "active", "2026-11-04T00:00:00Z")
    before = {p: flag_path(repo, p).read_bytes() for p in ("allocation_dual_write", "ledger_backfill_mode")}
    code, out, err = run(
        ["demote", "allocation_dual_write", "--root", str(repo), "--now", NOW, "--reason", "DRIFT_BREACH", "--justification", "drift"],
        capsys,
    )
    assert code == 1 and "nothing written" in err
    assert "no legal move of ledger_backfill_mode back from active keeps its requirements" in out
    assert {p: flag_path(repo, p).read_bytes() for p in before} == before


# --- the kill switch -----------------------------------------------------------------------------
def _read_switch_full(repo: Path) -> None:
    set_state(repo, "allocation_read_switch", "full", frm="canary", from_pct=25, evidence=[])
    commit_all(repo, "read switch full", "2026-11-10T00:00:00Z")


def test_kill_switch_takes_full_to_off_in_one_change(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = new_repo(tmp_path)
    _read_switch_full(repo)
    code, out, _ = run(["plan", "allocation_read_switch", "--root", str(repo), "--now", NOW], capsys)
    assert "kill switch: flaggate demote allocation_read_switch --to off" in out and "(full -> off)" in out
    argv = ["demote", "allocation_read_switch", "--root", str(repo), "--now", NOW, "--to", "off"]
    code, out, err = run([*argv, "--reason", "DRIFT_BREACH", "--justification", "drift on the read path"], capsys)
    assert code == 0, out + err
    assert out.splitlines()[0] == "disable: allocation_read_switch: full -> off (DRIFT_BREACH)"
    code, report = run_json(["check", "--root", str(repo), "--base", "HEAD", "--now", NOW], capsys)
    assert (code, report["errors"]) == (0, [])
    [move] = report["transitions"]
    assert (move["from"], move["to"], move["kind"]) == ("full", "off", "disable")
    commit_all(repo, "kill", "2026-11-20T02:00:00Z")
    code, out, _ = run(["audit-log", "--root", str(repo)], capsys)
    entries = json.loads(out)
    entries = entries["entries"] if isinstance(entries, dict) else entries
    assert entries[-1]["flag"] == "allocation_read_switch" and entries[-1]["kind"] == "disable"
    assert not entries[-1].get("warning")  # the history reads the kill as a legal move, as the gate does


def test_no_kill_switch_refuses_and_lists_the_legal_moves(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = new_repo(tmp_path)
    set_state(repo, "allocation_dual_write", "enforce", frm="shadow", evidence=[])
    commit_all(repo, "enforce", "2026-11-10T00:00:00Z")
    before = flag_path(repo, "allocation_dual_write").read_bytes()
    code, out, err = run(
        [
            "demote",
            "allocation_dual_write",
            "--root",
            str(repo),
            "--now",
            NOW,
            "--to",
            "off",
            "--reason",
            "DRIFT_BREACH",
            "--justification",
            "x",
        ],
        capsys,
    )
    assert code == 1 and "nothing written" in err
    assert "legal moves: shadow (demote)" in out and "kill_switch: true" in out
    assert flag_path(repo, "allocation_dual_write").read_bytes() == before
    # By hand: the gate refuses it too, naming the switch.
    set_state(repo, "allocation_dual_write", "off", frm="enforce", reason="DRIFT_BREACH")
    code, report = run_json(["check", "--root", str(repo), "--base", "HEAD", "--now", NOW], capsys)
    assert code == 1
    [error] = [e for e in report["errors"] if e["rule"] == "transition"]
    assert "only for a flag with kill_switch: true at the base" in error["message"]


def test_arming_the_kill_switch_is_an_amend_and_does_not_count_in_the_same_change(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = new_repo(tmp_path)
    set_state(repo, "allocation_dual_write", "enforce", frm="shadow", evidence=[])
    commit_all(repo, "enforce", "2026-11-10T00:00:00Z")
    path = flag_path(repo, "allocation_dual_write")
    path.write_text(path.read_text().replace("kill_switch: false", "kill_switch: true"))
    code, report = run_json(["check", "--root", str(repo), "--base", "HEAD", "--now", NOW], capsys)
    assert code == 0
    [amend] = report["transitions"]
    assert amend["kind"] == "amend" and amend["changes"] == [{"field": "kill_switch", "before": False, "after": True}]
    set_state(repo, "allocation_dual_write", "off", frm="enforce", reason="DRIFT_BREACH")
    code, report = run_json(["check", "--root", str(repo), "--base", "HEAD", "--now", NOW], capsys)
    assert code == 1 and "transition" in {e["rule"] for e in report["errors"]}


# --- reason codes in sight ----------------------------------------------------------------------
@pytest.mark.parametrize(("given", "meant"), [("drift_breach", "DRIFT_BREACH"), ("DRIFT", "DRIFT_BREACH"), ("WRITE_ERROR", "WRITE_ERRORS")])
def test_a_mistyped_reason_gets_one_did_you_mean(given: str, meant: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = new_repo(tmp_path)
    before = flag_path(repo, "allocation_dual_write").read_bytes()
    code, out, err = run(
        ["demote", "allocation_dual_write", "--root", str(repo), "--now", NOW, "--reason", given, "--justification", "x"], capsys
    )
    assert code == 2 and out == ""
    assert err.count("is not a reason code") == 1 and f"did you mean {meant}?" in err
    assert "OPERATOR_DECISION" in err and "a person decided" in err  # the codes with their meanings
    assert flag_path(repo, "allocation_dual_write").read_bytes() == before


def test_a_hand_written_unknown_reason_is_one_finding(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = new_repo(tmp_path)
    set_state(repo, "allocation_dual_write", "off", frm="shadow", reason="DRIFT")
    code, report = run_json(["check", "--root", str(repo), "--base", "HEAD", "--now", NOW], capsys)
    assert code == 1
    [error] = report["errors"]
    assert "did you mean DRIFT_BREACH?" in error["message"]


def test_demote_help_and_plan_list_the_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = new_repo(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        from validator.cli import main

        main(["demote", "--help", "--root", str(repo)])
    assert exit_.value.code == 0
    help_text = capsys.readouterr().out
    assert "DRIFT_BREACH" in help_text and "ledger and legacy totals drifted apart" in help_text
    assert "--to off" in help_text or "--to STATE" in help_text
    code, out, _ = run(["plan", "allocation_dual_write", "--root", str(repo), "--now", NOW], capsys)
    emergency = [line for line in out.splitlines() if "reason codes:" in line]
    assert emergency and "DRIFT_BREACH (ledger and legacy totals drifted apart" in emergency[0]


def test_reason_meanings_from_policy_yaml_are_printed_inert(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Finding 09: a meaning (a comment in policy.yaml) reached plan and demote --help with bidi and zero-width characters raw."""
    import re

    repo = new_repo(tmp_path)
    policy = repo / "policy.yaml"
    hostile = "use only for \u202eBREACH_TFIRD\u202c tests\u200b \u2066x\u2069 \u061c"
    text, count = re.subn(
        r"(  - OPERATOR_DECISION *#)[^\n]*", lambda m: f"{m.group(1)} {hostile}", policy.read_text(encoding="utf-8"), count=1
    )
    assert count == 1
    policy.write_text(text, encoding="utf-8")
    commit_all(repo, "policy: a hostile meaning", "2026-11-02T00:00:00Z")
    code, out, err = run(["check", "--root", str(repo)], capsys)
    assert code == 0, out + err  # a comment: check has no say over it
    shown = "use only for \\u202eBREACH_TFIRD\\u202c tests\\u200b \\u2066x\\u2069 \\u061c"
    with pytest.raises(SystemExit) as exit_:
        from validator.cli import main

        main(["demote", "--help", "--root", str(repo)])
    assert exit_.value.code == 0
    outputs = {"demote --help": capsys.readouterr().out}
    outputs["plan"] = run(["plan", "allocation_dual_write", "--root", str(repo), "--now", NOW], capsys)[1]
    argv = ["demote", "allocation_dual_write", "--root", str(repo), "--now", NOW, "--reason", "OPERATOR", "--justification", "x"]
    outputs["an unknown --reason"] = run(argv, capsys)[2]
    for name, out in outputs.items():
        assert shown in out, (name, out)
        assert not any(ch in out for ch in "\u202e\u202c\u200b\u2066\u2069\u061c"), (name, out)


# --- what was seen ------------------------------------------------------------------------------
def test_demote_records_metrics_from_the_command_line_and_samples(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = new_repo(tmp_path)
    rows = tmp_path / "seen.jsonl"
    rows.write_text(
        '{"at": "2026-11-20T02:00:00Z", "metrics": {"drift_ppm": 640, "write_error_rate": 0.002}}\n'
        '{"at": "2026-11-20T02:05:00Z", "metrics": {"drift_ppm": 812, "write_error_rate": 0.001}}\n'
    )
    argv = ["demote", "allocation_dual_write", "--root", str(repo), "--now", NOW, "--reason", "DRIFT_BREACH", "--justification", "drift"]
    code, out, err = run([*argv, "--samples", str(rows)], capsys)
    assert code == 0, out + err
    assert "metrics: {drift_ppm: 812, write_error_rate: 0.002}" in flag_path(repo, "allocation_dual_write").read_text()
    commit_all(repo, "demote", "2026-11-20T02:10:00Z")
    code, out, _ = run(["audit-log", "--root", str(repo)], capsys)
    entries = json.loads(out)
    entries = entries["entries"] if isinstance(entries, dict) else entries
    assert entries[-1]["metrics"] == {"drift_ppm": 812, "write_error_rate": 0.002}


@pytest.mark.parametrize(
    ("item", "expect"), [("drift=1", "did you mean drift_ppm?"), ("drift_ppm", "NAME=VALUE"), ("drift_ppm=1e3", "decimal")]
)
def test_bad_metrics_are_exit_2(item: str, expect: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = new_repo(tmp_path)
    argv = ["demote", "allocation_dual_write", "--root", str(repo), "--reason", "DRIFT_BREACH", "--justification", "x", "--metrics", item]
    code, out, err = run(argv, capsys)
    assert code == 2 and expect in err and "Traceback" not in err
