"""``flaggate rollback-check``: every trigger type on both sides, --apply and --open-pr."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run, run_json
from tests.fakegithub import FakeGitHub
from tests.gitrepo import commit_all, flag_path, git, new_repo, set_state

NOW = "2026-11-20T12:00:00Z"


def samples(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def series(metric: str, values: list[Any], start_minute: int = 0, step: int = 5) -> list[dict[str, Any]]:
    return [{"at": f"2026-11-20T01:{start_minute + i * step:02d}:00Z", "metrics": {metric: v}} for i, v in enumerate(values)]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return new_repo(tmp_path)


def rollback(repo: Path, capsys: pytest.CaptureFixture[str], flag: str, rows: list[dict[str, Any]], *extra: str) -> tuple[int, str, str]:
    file = samples(repo.parent / "samples.jsonl", rows)
    return run(["rollback-check", flag, "--root", str(repo), "--samples", str(file), "--now", NOW, *extra], capsys)


@pytest.mark.parametrize(
    ("values", "fires"),
    [([12, 499, 500], False), ([12, 500.01, 3], True), ([501], True)],
)
def test_plain_trigger_boundaries(values: list[Any], fires: bool, repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = series("drift_ppm", values)
    for row in rows:  # both triggers of dual write need samples to be judged
        row["metrics"]["write_error_rate"] = 0
    code, out, _ = rollback(repo, capsys, "allocation_dual_write", rows)
    assert code == (1 if fires else 0), out
    assert ("FIRED: drift_ppm > 500" in out) is fires


def test_plain_trigger_on_recomputed_inputs(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [
        {"at": "2026-11-20T01:00:00Z", "inputs": {"ledger_total": "1000500.00", "legacy_total": "1000000.00"}},
        {"at": "2026-11-20T01:05:00Z", "inputs": {"failed_ledger_writes": 1201, "total_ledger_writes": 120000}},
    ]
    code, out, _ = rollback(repo, capsys, "allocation_dual_write", rows)
    assert code == 1 and "FIRED: write_error_rate > 0.01" in out and "FIRED: drift_ppm" not in out
    assert "quiet: drift_ppm > 500 (DRIFT_BREACH): 1 samples, worst 500" in out  # exactly 500 ppm: inclusive boundary


def _read_switch_in_canary(repo: Path) -> None:
    set_state(repo, "allocation_read_switch", "canary", percentage=5, frm="off", evidence=[])
    commit_all(repo, "canary", "2026-11-19T00:00:00Z")


@pytest.mark.parametrize(("values", "fires"), [([11, 3, 11, 3, 11], False), ([3, 11, 12, 3], True), ([10, 10, 10], False)])
def test_twice_means_two_consecutive(values: list[int], fires: bool, repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _read_switch_in_canary(repo)
    code, out, _ = rollback(repo, capsys, "allocation_read_switch", series("drift_ppm", values))
    assert code == (1 if fires else 0), out


def _outbox_on(repo: Path) -> None:
    set_state(repo, "outbox_enabled", "on", frm="off", evidence=[])
    commit_all(repo, "outbox on", "2026-11-19T00:00:00Z")


@pytest.mark.parametrize(
    ("values", "step", "fires"),
    [
        ([0.98] * 7, 5, 1),
        ([0.98] * 6, 5, 2),  # 25 minutes of samples cannot show 30 sustained ones: cannot judge
        ([0.98, 0.98, 0.98, 0.995, 0.98, 0.98, 0.98, 0.98, 0.995], 5, 0),
        # Breaching for the last 15 minutes and nothing since: judged a minute after, a near miss...
        ([0.98, 0.98, 0.98, 0.995, 0.98, 0.98, 0.98, 0.98], 5, 0),
        ([0.99] * 10, 5, 0),
    ],
)
def test_sustained(values: list[float], step: int, fires: int, repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _outbox_on(repo)
    rows = [{"at": f"2026-11-20T01:{i * step:02d}:00Z", "metrics": {"delivery_success_rate": str(v)}} for i, v in enumerate(values)]
    for row in rows:  # as JSON numbers, exact
        row["metrics"]["delivery_success_rate"] = float(row["metrics"]["delivery_success_rate"])
    just_after = f"2026-11-20T01:{(len(values) - 1) * step + 1:02d}:00Z"
    code, out, _ = rollback(repo, capsys, "outbox_enabled", rows, "--now", just_after)
    assert code == fires, out


def test_a_breach_with_no_sample_since_is_not_healthy(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """...but hours later, a breach nothing has measured since may have lasted the 30 minutes (attack round 11: "healthy")."""
    _outbox_on(repo)
    rows = [{"at": f"2026-11-20T00:{m:02d}:00Z", "metrics": {"delivery_success_rate": 1}} for m in range(0, 41, 5)]
    rows.append({"at": "2026-11-20T00:41:00Z", "metrics": {"delivery_success_rate": 0.2}})
    code, out, _ = rollback(repo, capsys, "outbox_enabled", rows, "--now", "2026-11-20T01:09:00Z")
    assert code == 0 and "near miss" in out, out  # 29 minutes after the healthy 00:40: it cannot have fired yet
    code, out, _ = rollback(repo, capsys, "outbox_enabled", rows, "--now", "2026-11-20T02:00:00Z")
    assert code == 2, out
    assert "as every one has since 2026-11-20T00:41:00Z, and none is newer" in out and "until 2026-11-20T01:10:00Z" in out, out


def test_trigger_windows_past_the_end_of_time_are_judged(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A deadline later than 9999-12-31 crashed (OverflowError): it is the last instant a date holds."""
    _backfill_active(repo, "2026-11-20T00:00:00Z")
    rows = [{"at": "9999-12-31T00:00:00Z", "metrics": {"synthetic_completeness": 0.5}}]
    code, out, err = rollback(
        repo, capsys, "ledger_backfill_mode", rows, "--since", "9999-12-30T00:00:00Z", "--now", "9999-12-31T23:59:59Z"
    )
    assert code == 0 and "internal error" not in out + err and "9999-12-31T23:59:59Z" in out, out + err


def test_near_misses_are_found_in_linear_time(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """80,000 breaching samples a millisecond apart, shorter than the sustained window: 35 s when each step copied the run."""
    import time

    _outbox_on(repo)
    rows = [{"at": f"2026-11-20T00:{m}:00Z", "metrics": {"delivery_success_rate": 1}} for m in range(20, 60, 5)]
    rows.append({"at": "2026-11-20T00:59:59Z", "metrics": {"delivery_success_rate": 1}})
    rows += [
        {"at": f"2026-11-20T01:{i // 60000:02d}:{i // 1000 % 60:02d}.{i % 1000:03d}Z", "metrics": {"delivery_success_rate": 0.2}}
        for i in range(80_000)
    ]
    started = time.perf_counter()
    code, out, _ = rollback(repo, capsys, "outbox_enabled", rows, "--now", "2026-11-20T01:01:00Z")
    assert code == 0 and "near miss" in out, out
    assert time.perf_counter() - started < 10  # a bound on a stall, not a timing: 15-35 s when quadratic


def _backfill_active(repo: Path, date: str) -> None:
    set_state(repo, "ledger_backfill_mode", "read_only", frm="off", evidence=[])
    commit_all(repo, "read only", "2026-11-10T00:00:00Z")
    set_state(repo, "ledger_backfill_mode", "active", frm="read_only", evidence=[])
    commit_all(repo, "active", date)


@pytest.mark.parametrize(
    ("entered", "last", "fires"),
    [
        ("2026-11-17T00:00:00Z", 0.97, True),  # 72 h passed on 2026-11-20T00:00, still incomplete
        ("2026-11-17T00:00:00Z", 1, False),  # complete by then
        ("2026-11-18T00:00:00Z", 0.97, False),
    ],  # deadline 2026-11-21: not yet
)
def test_after_timeout(entered: str, last: float, fires: bool, repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _backfill_active(repo, entered)
    rows = [
        {"at": "2026-11-20T10:00:00Z", "metrics": {"synthetic_completeness": 0.5}},
        {"at": "2026-11-20T11:00:00Z", "metrics": {"synthetic_completeness": last}},
    ]
    code, out, _ = rollback(repo, capsys, "ledger_backfill_mode", rows)
    assert code == (1 if fires else 0), out
    if fires:
        assert "past the deadline 2026-11-20T00:00:00Z" in out


def test_unordered_samples_are_sorted(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _read_switch_in_canary(repo)
    rows = series("drift_ppm", [11, 3, 11])
    rows[1]["at"], rows[2]["at"] = rows[2]["at"], rows[1]["at"]  # 11 @00, 11 @05 written last, 3 @10
    code, out, _ = rollback(repo, capsys, "allocation_read_switch", rows)
    assert code == 1, out


@pytest.mark.parametrize(
    ("rows", "expect"),
    [
        ([], "no samples"),
        (
            [{"at": "2026-11-20T01:00:00Z", "metrics": {"drift_ppm": 1}}, {"at": "2026-11-20T01:00:00Z", "metrics": {"drift_ppm": 2}}],
            "second sample",
        ),
        ([{"at": "yesterday", "metrics": {"drift_ppm": 1}}], "ISO 8601"),
        ([{"at": "2026-11-20T01:00:00Z", "metrics": {"drift": 1}}], "unknown metric"),
        ([{"at": "2026-11-20T01:00:00Z", "inputs": {"ledger_total": "1", "legacy_total": "0"}}], "zero"),
        (
            [
                {
                    "at": "2026-11-20T01:00:00Z",
                    "metrics": {"drift_ppm": 0},
                    "inputs": {"ledger_total": "1000600.00", "legacy_total": "1000000.00"},
                }
            ],
            "claims drift_ppm = 0",
        ),
    ],
)
def test_bad_samples_are_exit_2(rows: list[dict[str, Any]], expect: str, repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = rollback(repo, capsys, "allocation_dual_write", rows)
    assert code == 2 and expect in err and "Traceback" not in err


def test_off_flag_has_nothing_to_watch(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = rollback(repo, capsys, "outbox_enabled", series("delivery_success_rate", [0.5]))
    assert code == 0 and "no rollback trigger watches" in out


def test_apply_writes_a_demote_that_passes_the_gate(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = rollback(repo, capsys, "allocation_dual_write", series("drift_ppm", [12, 612, 700]), "--apply")
    assert code == 1 and "applied: disable allocation_dual_write: shadow -> off (DRIFT_BREACH)" in out
    text = flag_path(repo, "allocation_dual_write").read_text()
    assert "reason_code: DRIFT_BREACH" in text and "metrics: {drift_ppm: 700}" in text  # the worst breaching value
    assert '# Spec: "drift_ppm > 500 or write_errors > 1%"' in text  # comments kept
    code, report = run_json(["check", "--root", str(repo), "--base", "HEAD", "--now", NOW], capsys)
    assert (code, report["errors"]) == (0, [])
    assert report["transitions"][0]["kind"] == "disable"


def test_apply_from_enforce_is_a_demote(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    set_state(repo, "allocation_dual_write", "enforce", frm="shadow", evidence=[])
    commit_all(repo, "enforce", "2026-11-19T00:00:00Z")
    code, out, _ = rollback(repo, capsys, "allocation_dual_write", series("write_error_rate", [0.02]), "--apply")
    assert code == 1 and "demote allocation_dual_write: enforce -> shadow (WRITE_ERRORS)" in out
    code, report = run_json(["check", "--root", str(repo), "--base", "HEAD", "--now", NOW], capsys)
    assert (code, report["errors"]) == (0, [])


def test_open_pr_pushes_a_branch_and_opens_a_labelled_pull_request(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    git(repo, "push", "-q", "origin", "main")
    with FakeGitHub() as fake:
        monkeypatch.setenv("GITHUB_TOKEN", "good-token")
        monkeypatch.setenv("GITHUB_API_URL", fake.url)
        code, out, err = rollback(
            repo,
            capsys,
            "allocation_dual_write",
            series("drift_ppm", [900]),
            "--open-pr",
            "--repo",
            "acme-payments/flags",
            "--retries",
            "0",
            "--throttle",
            "0",
        )
        assert code == 1, out + err
        [pull] = fake.pulls.values()
        assert pull.title == "Emergency demote: allocation_dual_write shadow -> off (DRIFT_BREACH)"
        assert pull.base_ref == "main" and pull.head_ref.startswith("flaggate/rollback-allocation_dual_write-")
        assert pull.labels == ["emergency"]  # type: ignore[attr-defined]
    branches = git(remote, "branch", "--list")
    assert pull.head_ref in branches
    pushed = git(remote, "show", f"{pull.head_ref}:flags/allocation_dual_write.yaml")
    assert "reason_code: DRIFT_BREACH" in pushed
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"


# --- verdicts: exit 0 only when every trigger was judged ----------------------------------------
def test_no_sample_of_a_triggers_metric_cannot_judge(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = rollback(repo, capsys, "allocation_dual_write", series("drift_ppm", [12, 13]))
    assert code == 2, out
    assert "CANNOT JUDGE: write_error_rate > 0.01 (WRITE_ERRORS): no sample carries write_error_rate" in out
    assert "verdict: cannot judge write_error_rate" in out and "nothing fired" not in out


@pytest.mark.parametrize(
    ("flag", "rows", "why"),
    [
        ("allocation_read_switch", series("drift_ppm", [3]), "1 drift_ppm sample, the trigger needs 2 consecutive"),
        ("outbox_enabled", series("delivery_success_rate", [0.999, 0.999, 0.999]), "span 10 minutes of the 30 minutes"),
    ],
)
def test_too_few_samples_for_the_window_cannot_judge(
    flag: str, rows: list[dict[str, Any]], why: str, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _read_switch_in_canary(repo) if flag == "allocation_read_switch" else _outbox_on(repo)
    code, out, _ = rollback(repo, capsys, flag, rows)
    assert code == 2 and why in out, out


def test_a_passed_deadline_without_a_sample_after_it_cannot_judge(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _backfill_active(repo, "2026-11-17T00:00:00Z")  # deadline 2026-11-20T00:00
    rows = [{"at": "2026-11-19T23:00:00Z", "metrics": {"synthetic_completeness": 0.9}}]
    code, out, _ = rollback(repo, capsys, "ledger_backfill_mode", rows)
    assert code == 2 and "the deadline 2026-11-20T00:00:00Z has passed but the newest synthetic_completeness sample" in out


def test_without_now_the_clock_is_now_not_the_newest_sample(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Stale samples from before a passed deadline never stand for a flag nobody measured since (attack)."""
    _backfill_active(repo, "2026-11-17T00:00:00Z")  # deadline 2026-11-20T00:00, long before the clock
    rows = [{"at": "2026-11-19T23:00:00Z", "metrics": {"synthetic_completeness": 0.5}}]
    file = samples(repo.parent / "samples.jsonl", rows)
    code, out, _ = run(["rollback-check", "ledger_backfill_mode", "--root", str(repo), "--samples", str(file)], capsys)
    assert code == 2 and "the deadline 2026-11-20T00:00:00Z has passed but the newest synthetic_completeness sample" in out, out


@pytest.mark.parametrize(("values", "code"), [([3, 3, 3], 2), ([50, 50, 50], 2)])
def test_samples_from_before_the_state_neither_fire_nor_prove_health(
    values: list[int], code: int, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The read switch entered canary on 11-19; samples of 11-01 measured it off (attack: they proved it healthy)."""
    _read_switch_in_canary(repo)
    rows = [{"at": f"2026-11-01T01:{i * 5:02d}:00Z", "metrics": {"drift_ppm": v}} for i, v in enumerate(values)]
    got, out, _ = rollback(repo, capsys, "allocation_read_switch", rows)
    assert got == code and "no drift_ppm sample since allocation_read_switch entered canary at 2026-11-19T00:00:00Z" in out, out
    got, out, _ = rollback(repo, capsys, "allocation_read_switch", [*rows, *series("drift_ppm", [3, 3], start_minute=0)])
    assert got == 0, out  # samples of 11-20, in canary, judge it


def test_since_cannot_reach_back_before_the_entry_git_knows(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The read switch entered canary on 11-19: --since 11-01 once let samples of the off state prove it healthy (attack)."""
    _read_switch_in_canary(repo)
    rows = [{"at": f"2026-11-05T01:{i * 5:02d}:00Z", "metrics": {"drift_ppm": 3}} for i in range(3)]
    code, out, _ = rollback(repo, capsys, "allocation_read_switch", rows, "--since", "2026-11-01T00:00:00Z")
    assert code == 2 and "since allocation_read_switch entered canary at 2026-11-19T00:00:00Z" in out, out
    later = series("drift_ppm", [3, 50, 50])  # 11-20 01:00..01:10; --since 01:02 leaves the two breaching ones
    code, out, _ = rollback(repo, capsys, "allocation_read_switch", later, "--since", "2026-11-20T01:02:00Z")
    assert code == 1, out


def test_every_fired_trigger_is_reported_and_recorded(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [
        {"at": "2026-11-20T01:00:00Z", "metrics": {"drift_ppm": 612, "write_error_rate": 0.02}},
        {"at": "2026-11-20T01:05:00Z", "metrics": {"drift_ppm": 900, "write_error_rate": 0.015}},
    ]
    code, out, _ = rollback(repo, capsys, "allocation_dual_write", rows, "--apply")
    assert code == 1
    assert "FIRED: drift_ppm > 500 (DRIFT_BREACH)" in out and "FIRED: write_error_rate > 0.01 (WRITE_ERRORS)" in out
    text = flag_path(repo, "allocation_dual_write").read_text()
    assert "metrics: {drift_ppm: 900, write_error_rate: 0.02}" in text  # every breaching metric, worst value
    assert "drift_ppm > 500 (DRIFT_BREACH) fired" in text and "write_error_rate > 0.01 (WRITE_ERRORS) fired" in text
    code, report = run_json(["check", "--root", str(repo), "--base", "HEAD", "--now", NOW], capsys)
    assert (code, report["errors"]) == (0, [])


def test_near_misses_say_how_close_and_how_long(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _outbox_on(repo)
    rows = [{"at": f"2026-11-20T01:{m:02d}:00Z", "metrics": {"delivery_success_rate": 0.98}} for m in range(0, 30)]
    # Healthy again at 01:30: the breach ended before it lasted 30 minutes (a healthy sample only at 01:31
    # would leave 01:30 unmeasured, and the breach may have lasted the 30 minutes: cannot judge).
    rows.append({"at": "2026-11-20T01:30:00Z", "metrics": {"delivery_success_rate": 0.995}})
    code, out, _ = rollback(repo, capsys, "outbox_enabled", rows)
    assert code == 0, out
    assert "near miss: delivery_success_rate < 0.99 sustained 30 min (DELIVERY_FAILURES): breached for 29 minutes of 30" in out
    assert "verdict: every trigger judged, nothing fired (exit 0)" in out


def test_a_timeout_not_yet_reached_is_a_near_miss(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _backfill_active(repo, "2026-11-18T00:00:00Z")  # deadline 2026-11-21T00:00, now 2026-11-20T12:00
    rows = [{"at": "2026-11-20T11:00:00Z", "metrics": {"synthetic_completeness": 0.97}}]
    code, out, _ = rollback(repo, capsys, "ledger_backfill_mode", rows)
    assert code == 0, out
    assert "near miss: synthetic_completeness < 1" in out and "12 h before the deadline 2026-11-21T00:00:00Z" in out


def test_samples_from_standard_input(repo: Path) -> None:
    import subprocess
    import sys

    body = "".join(json.dumps(r) + "\n" for r in series("drift_ppm", [12, 900]))
    result = subprocess.run(
        [sys.executable, "-m", "validator", "rollback-check", "allocation_dual_write", "--root", str(repo), "--samples", "-", "--now", NOW],
        input=body,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FIRED: drift_ppm > 500" in result.stdout
    empty = subprocess.run(
        [sys.executable, "-m", "validator", "rollback-check", "allocation_dual_write", "--root", str(repo), "--samples", "-"],
        input="",
        capture_output=True,
        text=True,
    )
    assert empty.returncode == 2 and "<stdin>: no samples" in empty.stderr


# --- --open-pr: checked before anything is written, safe to retry -------------------------------
def _with_remote(repo: Path, tmp_path: Path) -> Path:
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    git(repo, "push", "-q", "origin", "main")
    return remote


OPEN_PR = ("--open-pr", "--repo", "acme-payments/flags", "--retries", "0", "--throttle", "0")


def test_open_pr_without_a_token_writes_nothing_and_a_retry_succeeds(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    remote = _with_remote(repo, tmp_path)
    before = flag_path(repo, "allocation_dual_write").read_bytes()
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    code, out, err = rollback(repo, capsys, "allocation_dual_write", series("drift_ppm", [900]), *OPEN_PR)
    assert code == 2 and "GITHUB_TOKEN is not set" in err and "nothing written" in err
    assert flag_path(repo, "allocation_dual_write").read_bytes() == before
    assert git(repo, "status", "--porcelain").strip() == ""
    assert "flaggate/" not in git(remote, "branch", "--list") and "flaggate/" not in git(repo, "branch", "--list")
    with FakeGitHub() as fake:
        monkeypatch.setenv("GITHUB_TOKEN", "good-token")
        monkeypatch.setenv("GITHUB_API_URL", fake.url)
        code, out, err = rollback(repo, capsys, "allocation_dual_write", series("drift_ppm", [900]), *OPEN_PR)
        assert code == 1, out + err
        [pull] = fake.pulls.values()
    assert pull.head_ref in git(remote, "branch", "--list")
    assert git(repo, "status", "--porcelain").strip() == ""


def test_open_pr_refuses_a_dirty_tree_or_a_missing_remote_before_writing(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "good-token")
    code, _, err = rollback(repo, capsys, "allocation_dual_write", series("drift_ppm", [900]), *OPEN_PR)
    assert code == 2 and "no git remote 'origin'" in err
    _with_remote(repo, tmp_path)
    (repo / "resources.yaml").write_text((repo / "resources.yaml").read_text() + "\n")
    before = flag_path(repo, "allocation_dual_write").read_bytes()
    code, _, err = rollback(repo, capsys, "allocation_dual_write", series("drift_ppm", [900]), *OPEN_PR)
    assert code == 2 and "needs a clean working tree" in err and "resources.yaml" in err
    assert flag_path(repo, "allocation_dual_write").read_bytes() == before


def test_a_failed_pull_request_is_retried_on_a_new_branch(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.fakegithub import Fault

    remote = _with_remote(repo, tmp_path)
    with FakeGitHub() as fake:
        monkeypatch.setenv("GITHUB_TOKEN", "good-token")
        monkeypatch.setenv("GITHUB_API_URL", fake.url)
        fake.faults.append(Fault(path=r"/pulls$", method="POST", status=502, times=1))
        code, out, err = rollback(repo, capsys, "allocation_dual_write", series("drift_ppm", [900]), *OPEN_PR)
        assert code == 2 and "the demote is pushed on branch flaggate/rollback-allocation_dual_write-" in err, out + err
        assert git(repo, "status", "--porcelain").strip() == ""  # the tree is as it was: safe to run again
        code, out, err = rollback(repo, capsys, "allocation_dual_write", series("drift_ppm", [900]), *OPEN_PR)
        assert code == 1, out + err
        [pull] = fake.pulls.values()
    pushed = [b.strip() for b in git(remote, "branch", "--list").splitlines() if "flaggate/" in b]
    assert len(pushed) == 2 and pull.head_ref in pushed  # a branch per run: no "already exists"


def test_open_pr_help_says_it_implies_apply(capsys: pytest.CaptureFixture[str]) -> None:
    from validator.cli import main

    with pytest.raises(SystemExit):
        main(["rollback-check", "--help"])
    out = capsys.readouterr().out
    assert "--open-pr: implies --apply" in out and "standard input" in out


def test_apply_cascades_a_stranded_dependent(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    set_state(repo, "ledger_backfill_mode", "read_only", frm="off", evidence=[])
    commit_all(repo, "backfill read only", "2026-11-02T00:00:00Z")
    rows = series("drift_ppm", [900])
    for row in rows:
        row["metrics"]["write_error_rate"] = 0
    code, out, _ = rollback(repo, capsys, "allocation_dual_write", rows, "--apply")
    assert code == 1
    assert "cascade: disable: ledger_backfill_mode: read_only -> off (DRIFT_BREACH)" in out
    assert "reason_code: DRIFT_BREACH" in flag_path(repo, "ledger_backfill_mode").read_text()
    code, report = run_json(["check", "--root", str(repo), "--base", "HEAD", "--now", NOW], capsys)
    assert (code, report["errors"], report["warnings"]) == (0, [], [])
    assert run(["check", "--root", str(repo)], capsys)[0] == 0


@pytest.mark.parametrize(
    ("old", "new"), [("timeout_hours: 72", "timeout_hours: 100000000"), ("timeout_hours: 72", "sustained_minutes: 100000000000000000000")]
)
def test_trigger_windows_are_bounded_by_the_schema(repo: Path, capsys: pytest.CaptureFixture[str], old: str, new: str) -> None:
    """A window longer than ten years passed check, then crashed rollback-check (attack round 11)."""
    path = repo / "flags" / "ledger_backfill_mode.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    code, out, _ = run(["check", "--root", str(repo)], capsys)
    assert code == 1 and "schema" in out and ("timeout_hours" in out or "sustained_minutes" in out), out


def test_a_breach_followed_by_a_gap_is_not_healthy(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A breaching sample, three hours with no data, then a healthy one: the breach may have lasted 30 minutes in
    the gap (attack round 12: "nothing fired"); a gap after a healthy sample is no such question."""
    _outbox_on(repo)
    rows = [{"at": f"2026-11-20T00:{m:02d}:00Z", "metrics": {"delivery_success_rate": 1}} for m in range(0, 41, 5)]
    rows.append({"at": "2026-11-20T00:42:00Z", "metrics": {"delivery_success_rate": 0.2}})
    rows.append({"at": "2026-11-20T04:00:00Z", "metrics": {"delivery_success_rate": 1}})
    code, out, _ = rollback(repo, capsys, "outbox_enabled", rows, "--now", "2026-11-20T04:01:00Z")
    assert code == 2 and "breached from 2026-11-20T00:42:00Z" in out and "the next from 2026-11-20T04:00:00Z" in out, out
    rows[-2]["metrics"]["delivery_success_rate"] = 1
    code, out, _ = rollback(repo, capsys, "outbox_enabled", rows, "--now", "2026-11-20T04:01:00Z")
    assert code == 0, out


def test_a_breach_seen_on_several_samples_counts_from_its_start(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Breaching at 00:35, 00:38 and 00:41, nothing since: by 01:05 it may have lasted 30 minutes (measured from its
    last sample, the rule called this healthy until 01:11: attack round 13)."""
    _outbox_on(repo)
    rows = [{"at": f"2026-11-20T00:{m:02d}:00Z", "metrics": {"delivery_success_rate": 1}} for m in range(0, 31, 5)]
    rows += [{"at": f"2026-11-20T00:{m:02d}:00Z", "metrics": {"delivery_success_rate": 0.2}} for m in (35, 38, 41)]
    code, out, _ = rollback(repo, capsys, "outbox_enabled", rows, "--now", "2026-11-20T00:59:00Z")
    assert code == 0 and "near miss" in out, out  # 29 minutes after the healthy 00:30
    code, out, _ = rollback(repo, capsys, "outbox_enabled", rows, "--now", "2026-11-20T01:08:00Z")
    assert code == 2 and "since 2026-11-20T00:35:00Z" in out, out
    rows.append({"at": "2026-11-20T01:08:00Z", "metrics": {"delivery_success_rate": 1}})
    code, out, _ = rollback(repo, capsys, "outbox_enabled", rows, "--now", "2026-11-20T01:09:00Z")
    assert code == 2 and "breached from 2026-11-20T00:35:00Z to 2026-11-20T00:41:00Z" in out, out


def test_a_breach_after_a_silence_is_not_healthy(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Healthy at 00:05, nothing until a breach at 00:40, healthy from 00:45: it may have begun at 00:06 and lasted
    38 minutes (counted from its first breaching sample: "breached for 0 minutes of 30", exit 0: attack round 14)."""
    _outbox_on(repo)
    rows = [{"at": f"2026-11-20T00:0{m}:00Z", "metrics": {"delivery_success_rate": 1}} for m in (0, 5)]
    rows.append({"at": "2026-11-20T00:40:00Z", "metrics": {"delivery_success_rate": 0.2}})
    rows += [{"at": f"2026-11-20T00:{m}:00Z", "metrics": {"delivery_success_rate": 1}} for m in (45, 50, 55)]
    code, out, _ = rollback(repo, capsys, "outbox_enabled", rows, "--now", "2026-11-20T01:00:00Z")
    assert code == 2 and "the sample before is from 2026-11-20T00:05:00Z" in out, out
