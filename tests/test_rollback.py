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
        ([0.98, 0.98, 0.98, 0.995, 0.98, 0.98, 0.98, 0.98], 5, 0),
        ([0.99] * 10, 5, 0),
    ],
)
def test_sustained(values: list[float], step: int, fires: int, repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _outbox_on(repo)
    rows = [{"at": f"2026-11-20T01:{i * step:02d}:00Z", "metrics": {"delivery_success_rate": str(v)}} for i, v in enumerate(values)]
    for row in rows:  # as JSON numbers, exact
        row["metrics"]["delivery_success_rate"] = float(row["metrics"]["delivery_success_rate"])
    code, out, _ = rollback(repo, capsys, "outbox_enabled", rows)
    assert code == fires, out


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
    assert "reason_code: DRIFT_BREACH" in text and "metrics: {drift_ppm: 612}" in text
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
