"""The everyday surface on real git repositories: status, new, diff, the offline preview, plan's truth."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import read_terminal, run
from tests.gitrepo import commit_all, flag_path, git, new_repo, set_state, three_runs, write_run

NOW = "2026-11-20T12:00:00Z"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return new_repo(tmp_path)


def status_json(repo: Path, capsys: pytest.CaptureFixture[str], *extra: str, now: str = NOW) -> dict[str, Any]:
    code, out, err = run(["status", "--root", str(repo), "--now", now, "--format", "json", *extra], capsys)
    assert code == 0, err
    return {f["flag"]: f for f in json.loads(out)["flags"]} | {"_": json.loads(out)}


# --- status ----------------------------------------------------------------------------------
def test_status_soak_left_and_what_is_missing(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    flags = status_json(repo, capsys, now="2026-11-04T00:00:00Z")
    dual = flags["allocation_dual_write"]
    assert (dual["state"], dual["percentage"], dual["step"]) == ("shadow", 100, 2)
    assert [p["state"] for p in dual["plan"]] == ["off", "shadow", "enforce"]
    assert dual["entered_at"] == "2026-11-01T00:00:00Z"
    assert dual["in_step_seconds"] == 3 * 86400
    assert dual["soak_left_seconds"] == 4 * 86400
    assert dual["next"]["ready"] is False
    assert any(m.startswith("soak: 4d 0h left") for m in dual["next"]["missing"])
    assert any("no 3 consecutive usable green runs" in m for m in dual["next"]["missing"])
    assert dual["last_change"]["kind"] == "create" and dual["last_change"]["commit"]
    backfill = flags["ledger_backfill_mode"]
    assert backfill["percentage"] == 0 and backfill["next"]["ready"] is True


def test_status_ready_with_evidence_and_text_picture(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    three_runs(repo)
    commit_all(repo, "runs", "2026-11-20T02:00:00Z")
    dual = status_json(repo, capsys)["allocation_dual_write"]
    assert dual["next"]["ready"] is True and dual["next"]["evidence"] == ["rr-0101", "rr-0102", "rr-0103"]
    code, out, _ = run(["status", "--root", str(repo), "--now", NOW], capsys)
    assert code == 0
    line = next(i for i, text in enumerate(out.splitlines()) if text.startswith("allocation_dual_write"))
    assert "off > [shadow] > enforce" in out.splitlines()[line]
    assert "next: enforce ready" in out and "--evidence rr-0101 rr-0102 rr-0103" in out
    assert "\x1b[" not in out  # not a terminal: no colour


def test_status_ready_only_where_the_gate_agrees(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """status and check --base must not disagree (attack: a newer red run, another flag's requirement)."""
    three_runs(repo)
    write_run(repo, "allocation_dual_write", "rr-0104", 104, finished="2026-11-20T01:30:00Z", status="red")
    commit_all(repo, "runs", "2026-11-20T02:00:00Z")
    dual = status_json(repo, capsys)["allocation_dual_write"]
    assert dual["next"]["ready"] is False and dual["next"]["evidence"] == [], dual
    assert any("rr-0104" in m and "newer than the cited runs" in m for m in dual["next"]["missing"]), dual
    (repo / "evidence/allocation_dual_write/rr-0104.json").unlink()
    set_state(repo, "ledger_backfill_mode", "read_only", frm="off", evidence=[])  # requires dual write in shadow
    commit_all(repo, "backfill read only", "2026-11-20T03:00:00Z")
    dual = status_json(repo, capsys)["allocation_dual_write"]
    assert dual["next"]["ready"] is False
    assert any(m.startswith("dependency:") and "ledger_backfill_mode is read_only" in m for m in dual["next"]["missing"]), dual


def test_status_an_amend_does_not_restart_the_step(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    flag = flag_path(repo, "allocation_dual_write")
    flag.write_text(
        flag.read_text().replace(
            "  - acme-payments/ledger-platform\n", "  - acme-payments/ledger-platform\n  - acme-payments/billing-core\n", 1
        )
    )
    commit_all(repo, "owners", "2026-11-15T00:00:00Z")
    dual = status_json(repo, capsys)["allocation_dual_write"]
    assert dual["last_change"]["kind"] == "amend", dual
    assert dual["entered_at"] == "2026-11-01T00:00:00Z" and dual["soak_left_seconds"] == 0, dual


def test_status_takes_the_step_from_history_not_the_transition_block(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The backfill's plan is complete (its last off); a block rewritten to ``from: null`` does not reopen it."""
    for state, frm, date in (("read_only", "off", "02"), ("active", "read_only", "04"), ("off", "active", "06")):
        set_state(repo, "ledger_backfill_mode", state, frm=frm, evidence=[])
        commit_all(repo, f"backfill {state}", f"2026-11-{date}T00:00:00Z")
    set_state(repo, "ledger_backfill_mode", "off", frm=None, justification="rewritten")
    commit_all(repo, "rewrite the block", "2026-11-07T00:00:00Z")
    backfill = status_json(repo, capsys)["ledger_backfill_mode"]
    assert backfill["step"] == 4 and backfill["next"] is None, backfill


def test_status_last_change_reason_code_and_uncommitted(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = run(
        ["demote", "allocation_dual_write", "--root", str(repo), "--reason", "DRIFT_BREACH", "--justification", "drift 812 ppm"], capsys
    )
    assert code == 0
    dual = status_json(repo, capsys)["allocation_dual_write"]
    assert dual["last_change"]["kind"] == "uncommitted" and dual["last_change"]["reason_code"] == "DRIFT_BREACH"
    commit_all(repo, "demote", "2026-11-10T00:00:00Z")
    dual = status_json(repo, capsys)["allocation_dual_write"]
    last = dual["last_change"]
    assert (last["kind"], last["from"], last["to"], last["reason_code"], last["at"]) == (
        "disable",
        "shadow",
        "off",
        "DRIFT_BREACH",
        "2026-11-10T00:00:00Z",
    )


def test_status_base_shows_what_the_branch_changes(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = run(["promote", "outbox_enabled", "--root", str(repo), "--now", NOW, "--justification", "start delivery"], capsys)
    assert code == 0
    flags = status_json(repo, capsys, "--base", "HEAD")
    change = flags["outbox_enabled"]["change"]
    assert (change["kind"], change["from"], change["to"], change["ok"]) == ("promote", "off", "on", True)
    assert flags["allocation_dual_write"]["change"] is None
    assert flags["_"]["base"] == "HEAD"


def test_status_outside_git_still_lists_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.conftest import copy_repo

    repo = copy_repo(tmp_path / "plain")
    flags = status_json(repo, capsys)
    assert flags["allocation_dual_write"]["entered_at"] is None
    assert "soak: entry into this step is not committed yet" in flags["allocation_dual_write"]["next"]["missing"]


# --- plan tells the truth ----------------------------------------------------------------------
def _promote(repo: Path, capsys: pytest.CaptureFixture[str], runs: list[str], now: str) -> None:
    code, out, _ = run(
        [
            "promote",
            "allocation_dual_write",
            "--root",
            str(repo),
            "--now",
            now,
            "--justification",
            "green",
            "--base",
            "HEAD",
            "--evidence",
            *runs,
        ],
        capsys,
    )
    assert code == 0, out


def test_plan_never_suggests_a_used_up_run(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ids = three_runs(repo)  # finished 11-18..11-20
    commit_all(repo, "runs", "2026-11-20T02:00:00Z")
    _promote(repo, capsys, ids, NOW)
    commit_all(repo, "promote", "2026-11-20T13:00:00Z")
    code, _, _ = run(
        ["demote", "allocation_dual_write", "--root", str(repo), "--reason", "DRIFT_BREACH", "--justification", "drift", "--base", "HEAD"],
        capsys,
    )
    assert code == 0
    commit_all(repo, "demote", "2026-11-20T14:00:00Z")
    for i, seq in enumerate((104, 105, 106)):
        write_run(repo, "allocation_dual_write", f"rr-0{seq}", seq, finished=f"2026-11-2{1 + i}T01:12:00Z")
    commit_all(repo, "more runs", "2026-11-23T02:00:00Z")
    # Soak of 7 days after the demote commit: plan at 11-28.
    code, out, _ = run(["plan", "allocation_dual_write", "--root", str(repo), "--now", "2026-11-28T00:00:00Z", "--base", "HEAD"], capsys)
    assert "--evidence rr-0104 rr-0105 rr-0106" in out, out
    assert "rr-0101 (seq 101): already cited" in out
    assert code == 0, out
    _promote(repo, capsys, ["rr-0104", "rr-0105", "rr-0106"], "2026-11-28T00:00:00Z")


def test_plan_judges_against_the_upstream_not_head(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    origin = new_repo(tmp_path)
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(origin), str(clone))
    git(clone, "switch", "-q", "-c", "promote-outbox", "--track", "origin/main")
    code, _, _ = run(["promote", "outbox_enabled", "--root", str(clone), "--now", NOW, "--justification", "on"], capsys)
    assert code == 0
    commit_all(clone, "promote outbox", "2026-11-02T00:00:00Z")
    # Against HEAD the next promotion of dual write would look alone; against the pull request's base
    # (the upstream) the branch already promotes outbox, and the policy allows one promotion per change.
    code, out, _ = run(["plan", "allocation_dual_write", "--root", str(clone), "--now", "2026-11-05T00:00:00Z"], capsys)
    assert "judged against: origin/main" in out
    # Two promotions in one change against the PR's base: plan must say so, not "ready".
    assert code == 1 and "promotes 2 flags" in out, out


# --- new -------------------------------------------------------------------------------------
def test_new_scaffolds_a_flag_that_passes_check(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["new", "partial_allocation_ui", "--root", str(repo), "--owner", "acme-payments/billing-core", "--states", "off,canary,full"]
    argv += ["--percentages", "5,25", "--soak-days", "3", "--guard", "drift_ppm=1", "--guard", "write_error_rate"]
    argv += ["--description", "UI for partial allocations", "--resource", "invoice_balance_cache"]
    code, out, err = run(argv, capsys)
    assert code == 0, out + err
    text = flag_path(repo, "partial_allocation_ui").read_text()
    assert "  - state: canary\n    percentage: 5\n    soak_days: 3\n" in text
    assert "  - metric: drift_ppm\n    max: 1\n" in text and 'op: ">"\n    threshold: 1\n    reason_code: DRIFT_BREACH' in text
    code, out, _ = run(["check", "--root", str(repo)], capsys)
    assert code == 0, out
    code, report = (lambda r: (r[0], json.loads(r[1])))(
        run(["check", "--root", str(repo), "--base", "HEAD", "--now", NOW, "--format", "json"], capsys)
    )
    assert code == 0 and report["transitions"] == [
        {"flag": "partial_allocation_ui", "from": None, "to": "off", "from_percentage": None, "to_percentage": None, "kind": "create"}
    ]


def test_new_refuses_without_answers_off_a_terminal(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["new", "x_flag", "--root", str(repo), "--description", "d"], capsys)
    assert code == 2 and "--owner is needed" in err and not flag_path(repo, "x_flag").exists()
    code, _, err = run(["new", "allocation_dual_write", "--root", str(repo)], capsys)
    assert code == 2 and "already exists" in err
    code, _, err = run(["new", "Bad-Name", "--root", str(repo)], capsys)
    assert code == 2 and "not a flag name" in err
    code, _, err = run(["new", "y_flag", "--root", str(repo), "--description", "d", "--owner", "a", "--guard", "drift_pm"], capsys)
    assert code == 2 and "did you mean drift_ppm" in err
    base = ["new", "w_flag", "--root", str(repo), "--description", "d", "--owner", "a"]
    for extra, expect in (
        (["--percentages", "5,x", "--states", "off,canary,full"], "whole numbers"),
        (["--percentages", "25,5", "--states", "off,canary,full"], "rise strictly"),
        (["--percentages", "5"], "needs a middle state"),
        (["--states", "off"], "at least two different states"),
        (["--guard", "drift_ppm=lots"], "not a number"),
    ):
        code, out, err = run([*base, *extra], capsys)
        assert code == 2 and expect in err and "Traceback" not in err and "internal error" not in err, (extra, err)
    assert not flag_path(repo, "w_flag").exists()


def test_new_refuses_a_file_check_would_refuse(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        ["new", "z_flag", "--root", str(repo), "--description", "d", "--owner", "a", "--resource", "no_such_table"], capsys
    )
    assert code == 1 and "no_such_table" in out and "nothing written" in err
    assert not flag_path(repo, "z_flag").exists()


def test_new_asks_on_a_terminal(repo: Path) -> None:
    import argparse

    from validator import scaffold

    answers = iter(["What it does", "acme-payments/billing-core, dana", "off,shadow,enforce", "drift_ppm"])
    asked: list[str] = []

    def reader(question: str) -> str:
        asked.append(question)
        return next(answers)

    args = argparse.Namespace(
        name="q_flag", description=None, owner=[], states=None, percentages=None, soak_days=None, guard=[], resource=[]
    )
    scaffold.answers(args, True, reader)
    assert args.owner == ["acme-payments/billing-core", "dana"] and args.states == "off,shadow,enforce" and args.guard == ["drift_ppm"]
    assert len(asked) == 4
    text = scaffold.render(args, ["DRIFT_BREACH"])
    assert "    soak_days: 7\n" in text and "reason_code: DRIFT_BREACH" in text


# --- diff ------------------------------------------------------------------------------------
def test_diff_between_revisions_and_published_configs(repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = git(repo, "rev-parse", "HEAD").strip()
    run(["promote", "outbox_enabled", "--root", str(repo), "--now", NOW, "--justification", "on"], capsys)
    path = flag_path(repo, "event_stream_enabled")
    path.write_text(path.read_text().replace("  - acme-payments/event-platform\n", "  - acme-payments/event-platform\n  - dana\n", 1))
    commit_all(repo, "two changes", "2026-11-02T00:00:00Z")
    code, out, _ = run(["diff", first, "HEAD", "--root", str(repo), "--format", "json"], capsys)
    moves = {m["flag"]: m["kind"] for m in json.loads(out)["transitions"]}
    assert code == 0 and moves == {"outbox_enabled": "promote", "event_stream_enabled": "amend"}, out
    for rev, out_dir in ((first, "a"), ("HEAD", "b")):
        assert run(["publish", "--root", str(repo), "--rev", rev, "--out", str(tmp_path / out_dir)], capsys)[0] == 0
    code, out, _ = run(["diff", str(tmp_path / "a/config.json"), str(tmp_path / "b/config.json"), "--root", str(repo)], capsys)
    assert code == 0 and "outbox_enabled: promote: off -> on" in out and "event_stream_enabled: amend" in out
    # A revision against a published file: shadow (published as 100) is no move.
    code, out, _ = run(["diff", first, str(tmp_path / "b/config.json"), "--root", str(repo), "--format", "json"], capsys)
    moves = {m["flag"]: m["kind"] for m in json.loads(out)["transitions"]}
    assert code == 0 and moves == {"outbox_enabled": "promote", "event_stream_enabled": "amend"}, out
    (tmp_path / "bad.json").write_text("{not json")
    code, _, err = run(["diff", str(tmp_path / "bad.json"), "HEAD", "--root", str(repo)], capsys)
    assert code == 2 and "not a published config.json" in err


def test_diff_prints_values_from_config_files_inert(repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Finding 08: flag names and states from config.json reached the text output raw, U+2028/U+202E the json output."""
    evil_state = "canary\n::warning title=flaggate::all flags verified, nothing moved\x1b[2K\x9b"
    evil_name = "x\u202egnp.exe\u2028::error::forged\u200b\ufeff"
    a = {"flags": {"read": {"state": "off", "percentage": 0, "states": ["off", "canary", "full"], "owners": []}}}
    b = {
        "flags": {
            "read": {"state": evil_state, "percentage": 5, "states": ["off", evil_state, "full"], "owners": []},
            evil_name: {"state": "off", "percentage": 0, "states": ["off"], "owners": []},
        }
    }
    (tmp_path / "a.json").write_text(json.dumps(a))
    (tmp_path / "b.json").write_text(json.dumps(b))  # ASCII with \u escapes: the lone surrogate survives json.loads
    argv = ["diff", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--root", str(repo)]
    code, out, _ = run(argv, capsys)
    assert code == 0
    assert out.splitlines()[1:] == [
        "  read: promote: off -> canary\\n::warning title=flaggate::all flags verified, nothing moved\\x1b[2K\\x9b 5%",
        "  x\\u202egnp.exe\\u2028::error::forged\\u200b\\ufeff: create: (none) -> off",
    ]
    code, out, _ = run([*argv, "--format", "json"], capsys)
    assert code == 0 and out.isascii() and "\\u202e" in out and "\\u2028" in out and "\\u009b" in out
    moves = {m["flag"]: m for m in json.loads(out)["transitions"]}  # the escapes decode to the very values
    assert moves[evil_name]["kind"] == "create" and moves["read"]["to"] == evil_state


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ('{"flags": {"x": {"state": "off", "percentage": NaN, "states": ["off"], "owners": []}}}', "NaN"),
        ('{"flags": {"x": {"state": "off", "percentage": 1e40, "states": ["off"], "owners": []}}}', "percentage"),
        ('{"flags": {"x": {"state": "off", "percentage": 10000000000000000000000, "states": ["off"], "owners": []}}}', "percentage"),
        ('{"flags": {"x": {"state": "on", "percentage": "5", "states": ["off", "on"], "owners": []}}}', "percentage"),
        ('{"flags": {"x": {"state": "on", "percentage": 5, "states": ["off"], "owners": []}}}', "not one of its states"),
        ('{"flags": {"x": {"state": "off", "states": ["off"]}, "x": {"state": "off", "states": ["off"]}}}', "duplicate"),
        ('{"flags": {"x\\ud800": {"state": "off", "states": ["off"]}}}', "surrogate"),
    ],
    ids=["nan", "exponent", "huge", "string", "state", "duplicate-key", "lone-surrogate"],
)
def test_diff_refuses_what_no_publish_writes(repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, said: str) -> None:
    """A config.json read by the one strict reader, its percentages whole numbers from 0 to 100 (attack round 12's notes)."""
    good = {"flags": {"x": {"state": "off", "percentage": 0, "states": ["off", "on"], "owners": []}}}
    (tmp_path / "a.json").write_text(json.dumps(good))
    (tmp_path / "b.json").write_text(text)
    code, _, err = run(["diff", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--root", str(repo)], capsys)
    assert code == 2 and said.lower() in err.lower(), err


# --- offline preview -------------------------------------------------------------------------
def test_pr_check_dry_run_offline_preview(repo: Path) -> None:
    git(repo, "switch", "-q", "-c", "start-outbox")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "validator",
            "promote",
            "outbox_enabled",
            "--root",
            str(repo),
            "--justification",
            "deliver @dana",
            "--base",
            "main",
        ],
        check=True,
        capture_output=True,
    )
    commit_all(repo, "Start the outbox", "2026-11-02T00:00:00Z")
    env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_TOKEN", "GITHUB_EVENT_PATH")}
    env["GITHUB_API_URL"] = "http://127.0.0.1:9"  # nothing listens: any request would fail
    code = (
        "import sys; from validator.cli import main; rc = main(sys.argv[1:]); "
        "print('PYGITHUB' if 'github' in sys.modules else 'NO-PYGITHUB'); sys.exit(rc)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, "pr-check", "--dry-run", "--base", "main", "--root", str(repo), "--now", NOW],
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert (
        "<!-- flaggate:summary -->" in out
        and "Offline preview (not posted), the working tree as of the last commit: Start the outbox" in out
    )
    assert "| outbox_enabled | off | on | promote | deliver @\u200bdana |" in out
    assert "not read: offline preview without GITHUB_TOKEN" in out and "needs 1 from acme-payments/platform-admins" not in out
    assert "NO-PYGITHUB" in out


def test_pr_check_comment_shows_a_justification_as_plain_text(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Finding 11: a justification rendered in the comment as an image badge, a link and #N cross-references."""
    import html
    import re

    import cmarkgfm
    from cmarkgfm.cmark import Options

    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.delenv("GITHUB_EVENT_PATH", raising=False)
    monkeypatch.setenv("GITHUB_API_URL", "http://127.0.0.1:9")  # nothing listens: any request would fail
    git(repo, "switch", "-q", "-c", "disable")
    justification = (
        "![flaggate: passed, approved by platform-admins](https://evil.example/badge.svg) runbook: "
        "[sso login](https://evil.example/login) #1 acme-payments/flags#2 GH-3 @dana <b>x</b> **bold** | cell"
    )
    argv = ["demote", "allocation_dual_write", "--root", str(repo), "--base", "main", "--now", NOW, "--reason", "DRIFT_BREACH"]
    code, out, err = run([*argv, "--justification", justification], capsys)
    assert code == 0, out + err
    commit_all(repo, "disable", "2026-11-02T00:00:00Z")
    code, out, err = run(["pr-check", "--dry-run", "--base", "main", "--root", str(repo), "--now", NOW], capsys)
    assert code == 0, out + err
    rendered = str(cmarkgfm.github_flavored_markdown_to_html(out, options=Options.CMARK_OPT_UNSAFE))
    assert "evil.example" in rendered  # the justification is there, as text
    assert not re.search(r"<(img|a|b|strong)\b", rendered), rendered
    [row] = [r for r in re.findall(r"<tr>(.*?)</tr>", rendered, re.S) if "evil.example" in r]
    text = html.unescape(re.sub(r"<[^>]*>", "", row))
    assert justification in text.replace("\u200b", "")  # the very characters, in one cell
    assert not re.search(r"(?<![\w-])#\d|@[a-z]|(?i:gh-\d)|https?://", text), text  # nothing GitHub links after rendering


# --- messages --------------------------------------------------------------------------------
def test_unknown_flag_suggests_the_nearest(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for command in (["plan"], ["promote", "--justification", "x"], ["demote", "--reason", "DRIFT_BREACH", "--justification", "x"]):
        code, _, err = run([command[0], "allocation_dual_wrte", *command[1:], "--root", str(repo)], capsys)
        assert code == 2 and "did you mean allocation_dual_write?" in err, err


def test_blank_justification_names_the_field_and_the_option(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["promote", "outbox_enabled", "--root", str(repo), "--justification", ""], capsys)
    assert code == 1
    assert "schema: transition.justification (why the change is made, --justification): must not be empty" in out


def test_status_history_is_read_once_per_head(repo: Path) -> None:
    def status(trace: Path) -> tuple[dict[str, Any], list[str]]:
        done = subprocess.run(
            [sys.executable, "-m", "validator", "status", "--root", str(repo), "--format", "json", "--now", NOW],
            capture_output=True,
            text=True,
            env={**os.environ, "GIT_TRACE": str(trace)},
        )
        assert done.returncode == 0, done.stderr
        walks = [line for line in trace.read_text().splitlines() if "built-in: git log" in line or "built-in: git rev-list" in line]
        return json.loads(done.stdout), walks

    first, walked = status(repo.parent / "trace-1.txt")
    assert (repo / ".git" / "flaggate-status.json").is_file() and walked
    # Same HEAD: status's own reading of the history is the kept one; git is still asked what
    # the gate asks, to judge the promotions status calls ready as check --base would.
    second, walked_again = status(repo.parent / "trace-2.txt")
    assert second == first
    assert len(walked_again) < len(walked), (walked, walked_again)
    assert second["flags"][1]["entered_at"] == "2026-11-01T00:00:00Z"


def test_uncommitted_demote_on_a_branch_that_promoted_is_judged_against_the_base(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    origin = new_repo(tmp_path)
    ids = three_runs(origin)
    commit_all(origin, "runs", "2026-11-20T02:00:00Z")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(origin), str(clone))
    git(clone, "switch", "-q", "-c", "promote-dual", "--track", "origin/main")
    root = ["--root", str(clone), "--now", NOW]
    assert run(["promote", "allocation_dual_write", *root, "--justification", "green", "--evidence", *ids], capsys)[0] == 0
    commit_all(clone, "promote dual write", "2026-11-20T13:00:00Z")
    code, _, _ = run(["demote", "allocation_dual_write", *root, "--reason", "OPERATOR_DECISION", "--justification", "not yet"], capsys)
    assert code == 0
    # Against HEAD a re-promotion would be "no change" and need nothing; against the pull request's
    # base it is a promotion out of shadow, and it needs its runs.
    code, out, _ = run(["plan", "allocation_dual_write", *root], capsys)
    assert "judged against: origin/main" in out and "--evidence rr-0101 rr-0102 rr-0103" in out, out
    code, out, err = run(["promote", "allocation_dual_write", *root, "--justification", "again"], capsys)
    assert code == 1 and "evidence" in out and "nothing written" in err
    assert "evidence: []" not in flag_path(clone, "allocation_dual_write").read_text().split("transition:")[-1]


def test_new_prompts_on_a_real_terminal(repo: Path) -> None:
    import pty

    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "validator", "new", "tty_flag", "--root", str(repo), "--no-color"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
    )
    os.close(slave)
    os.write(master, b"Typed at a terminal\nacme-payments/billing-core\noff,shadow,enforce\nreplay_accuracy\n")
    output = read_terminal(master)
    assert proc.wait(timeout=30) == 0, output.decode()
    os.close(master)
    screen = output.decode()
    assert "Owners (GitHub logins or org/team, comma-separated): " in screen
    text = flag_path(repo, "tty_flag").read_text()
    assert "description: Typed at a terminal" in text or 'description: "Typed at a terminal"' in text
    assert "    min: 0.999\n" in text and 'op: "<"' in text and "reason_code: REPLAY_MISMATCH" in text
    assert run_check_ok(repo)


def run_check_ok(repo: Path) -> bool:
    proc = subprocess.run([sys.executable, "-m", "validator", "check", "--root", str(repo)], capture_output=True, text=True)
    return proc.returncode == 0


@pytest.mark.parametrize("where", ["flags-dir", "flag-file"])
def test_new_never_writes_through_a_symbolic_link(where: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """flags/ linked outside the repository (or flags/NAME.yaml a dangling link): new wrote there (attack)."""
    repo = new_repo(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    if where == "flags-dir":
        for f in (repo / "flags").iterdir():
            f.rename(outside / f.name)
        (repo / "flags").rmdir()
        (repo / "flags").symlink_to(outside)
    else:
        (repo / "flags/z_flag.yaml").symlink_to(outside / "z_flag.yaml")
    argv = ["new", "z_flag", "--root", str(repo), "--description", "d", "--owner", "acme-payments/messaging", "--states", "off,on"]
    code, out, err = run(argv, capsys)
    assert code == 2 and ("symbolic link" in err or "already exists" in err), out + err
    assert not (outside / "z_flag.yaml").exists()
