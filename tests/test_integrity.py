"""A green check that cannot be talked into green: each attack on a real git repository.

Every case is a change a careful reviewer of a payments migration would
refuse; each must exit 1 naming the rule, and the same change without the
offending part must still pass.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run, run_json
from tests.gitrepo import DUAL, commit_all, flag_path, git, new_repo, set_state, three_runs, write_run
from validator.clock import iso

NOW = "2026-11-20T12:00:00Z"
BACKFILL = "ledger_backfill_mode"


def gate(repo: Path, capsys: pytest.CaptureFixture[str], *extra: str, base: str = "HEAD", now: str = NOW) -> tuple[int, dict[str, Any]]:
    return run_json(["check", "--root", str(repo), "--base", base, "--now", now, *extra], capsys)


def errors(report: dict[str, Any], rule: str) -> list[str]:
    return [e["message"] for e in report["errors"] if e["rule"] == rule]


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (old, path)
    path.write_text(text.replace(old, new, 1))


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return new_repo(tmp_path)


def promote_dual(repo: Path, evidence: list[str] | None = None) -> None:
    ids = evidence if evidence is not None else three_runs(repo)
    set_state(repo, "allocation_dual_write", "enforce", frm="shadow", justification="3 green cycles", evidence=ids)


# --- case 1: dependencies are read at the base ------------------------------------------------
BACKFILL_REQUIRES = "    - flag: allocation_dual_write\n      in: [shadow]\n      when: [read_only, active]\n"


def _backfill_read_only(repo: Path) -> None:
    set_state(repo, BACKFILL, "read_only", frm="off", evidence=[])
    commit_all(repo, "backfill read_only", "2026-11-02T00:00:00Z")


@pytest.mark.parametrize(
    "loosen",
    [
        ("delete", BACKFILL_REQUIRES, "    []\n"),
        ("widen in", "in: [shadow]", "in: [shadow, enforce]"),
        ("narrow when", "when: [read_only, active]", "when: [active]"),
    ],
    ids=lambda x: x[0],
)
def test_case1_a_requirement_dropped_in_the_same_change(
    loosen: tuple[str, str, str], repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _backfill_read_only(repo)
    _, old, new = loosen
    edit(flag_path(repo, BACKFILL), old, new)
    promote_dual(repo)
    code, report = gate(repo, capsys)
    assert code == 1, report
    assert any("requires allocation_dual_write in shadow" in m for m in errors(report, "dependency")), report["errors"]


def test_case1_the_requirement_change_alone_is_an_amend(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _backfill_read_only(repo)
    edit(flag_path(repo, BACKFILL), BACKFILL_REQUIRES, "    []\n")
    code, report = gate(repo, capsys)
    assert (code, report["errors"]) == (0, []), report
    (move,) = report["transitions"]
    assert move["kind"] == "amend" and move["flag"] == BACKFILL
    assert move["changes"][0]["field"].startswith("requires.flags")


def _outbox_on_without_resources(repo: Path) -> None:
    set_state(repo, "outbox_enabled", "on", frm="off", evidence=[])
    edit(flag_path(repo, "outbox_enabled"), "requires:\n  resources: [outbox]\n", "requires:\n  resources: []\n")


def test_case1_a_resource_dropped_while_unprovisioned_at_the_base(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(
        repo / "resources.yaml",
        "Transactional outbox table for telegram and event delivery.\n    provisioned: true",
        "Transactional outbox table for telegram and event delivery.\n    provisioned: false",
    )
    commit_all(repo, "outbox table not there yet", "2026-11-02T00:00:00Z")
    _outbox_on_without_resources(repo)
    code, report = gate(repo, capsys)
    assert code == 1 and any("resource outbox is not provisioned" in m for m in errors(report, "dependency")), report


def test_case1_provisioned_at_the_base_passes(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    set_state(repo, "outbox_enabled", "on", frm="off", evidence=[])
    code, report = gate(repo, capsys)
    assert (code, report["errors"]) == (0, []), report
    _outbox_on_without_resources(repo)  # dropping the requirement too is an amend, never with the promotion
    code, report = gate(repo, capsys)
    assert code == 1 and errors(report, "amend")


def test_provisioning_and_enabling_in_one_change_is_refused(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    resources = repo / "resources.yaml"
    edit(resources, "event delivery.\n    provisioned: true", "event delivery.\n    provisioned: false")
    commit_all(repo, "outbox table not there yet", "2026-11-02T00:00:00Z")
    edit(resources, "event delivery.\n    provisioned: false", "event delivery.\n    provisioned: true")
    set_state(repo, "outbox_enabled", "on", frm="off", evidence=[])
    code, report = gate(repo, capsys)
    assert code == 1 and errors(report, "dependency"), report
    set_state(repo, "outbox_enabled", "off", frm=None)
    git(repo, "checkout", "-q", "--", "flags")
    code, report = gate(repo, capsys)
    assert code == 0, report
    assert [(m["kind"], m["file"]) for m in report["transitions"]] == [("amend", "resources.yaml")]


# --- case 2: a plan is never reordered into serving people ------------------------------------
@pytest.mark.parametrize(
    ("name", "old", "new"),
    [
        ("outbox_enabled", "rollout:\n  - state: off\n  - state: on\n", "rollout:\n  - state: on\n  - state: off\n"),
        ("outbox_enabled", "rollout:\n  - state: off\n  - state: on\n", "rollout:\n  - state: paused\n  - state: off\n  - state: on\n"),
        (
            "allocation_read_switch",
            "rollout:\n  - state: off\n  - state: canary\n    percentage: 5\n",
            "rollout:\n  - state: canary\n    percentage: 5\n  - state: off\n",
        ),
    ],
    ids=["outbox-on-first", "paused-first", "read-switch-canary-first"],
)
def test_case2_reordered_plan(name: str, old: str, new: str, repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(flag_path(repo, name), old, new)
    if "paused" in new:
        edit(flag_path(repo, name), "states: [off, on]", "states: [off, on, paused]")
    code, report = gate(repo, capsys)
    assert code == 1, report
    assert any("every plan starts with the step `off`" in m for m in errors(report, "consistency")), report["errors"]
    code, _, _ = run(["check", "--root", str(repo)], capsys)
    assert code == 1  # the tree alone is refused too: no base needed


def test_off_always_publishes_zero(repo: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "public"
    assert run(["publish", "--root", str(repo), "--out", str(out)], capsys)[0] == 0
    flags = json.loads((out / "config.json").read_text())["flags"]
    assert {name: f["percentage"] for name, f in flags.items() if f["state"] == "off"} == {
        name: 0 for name, f in flags.items() if f["state"] == "off"
    }


# --- case 3: loosen, then jump ------------------------------------------------------------------
def test_case3_reorder_to_full_first_is_refused(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = flag_path(repo, "allocation_read_switch")
    edit(
        path,
        "  - state: canary\n    percentage: 5\n",
        "  - state: full\n  - state: canary\n    percentage: 5\n",
    )
    edit(path, "    soak_days: 3\n  - state: full\n", "    soak_days: 3\n")
    code, report = gate(repo, capsys)
    assert code == 1 and any("serves fewer" in m or "a promotion never serves fewer" in m for m in errors(report, "consistency")), report


@pytest.mark.parametrize(
    ("file", "old", "new", "field"),
    [
        (DUAL, "soak_days: 7", "soak_days: 0", "rollout[1].soak_days"),
        (DUAL, "max: 500", "max: 100000", "guards[0].max"),
        ("policy.yaml", "green_runs: 3", "green_runs: 1", "green_runs"),
    ],
)
def test_case3_loosening_is_a_judged_amend(
    file: str, old: str, new: str, field: str, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit(repo / file, old, new)
    code, report = gate(repo, capsys)
    assert code == 0, report
    (move,) = report["transitions"]
    assert move["kind"] == "amend" and field in [c["field"] for c in move["changes"]]
    # ... and loosening and using the looser rule in one change is refused.
    promote_dual(repo, ["rr-0101"] if "green_runs" in new else None)
    code, report = gate(repo, capsys, now="2026-11-02T12:00:00Z" if "soak" in new else NOW)
    assert code == 1, report


def test_case3_amend_and_promotion_of_one_flag_in_one_change(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(repo / DUAL, "soak_days: 7", "soak_days: 5")
    promote_dual(repo)
    code, report = gate(repo, capsys)
    assert code == 1 and any("never combined with a promotion" in m for m in errors(report, "amend")), report


def test_an_approved_amend_then_a_promotion_works(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(repo / DUAL, "soak_days: 7", "soak_days: 5")
    assert gate(repo, capsys)[0] == 0
    commit_all(repo, "soak 5 days (approved by the platform owners)", "2026-11-02T00:00:00Z")
    promote_dual(repo)
    code, report = gate(repo, capsys, now="2026-11-20T12:00:00Z")
    assert (code, report["errors"]) == (0, []), report
    code, report = gate(repo, capsys, now="2026-11-05T12:00:00Z")  # 4 days: the old 7-day soak would not be done either
    assert code == 1 and errors(report, "soak")


# --- case 4: evidence on the base is never rewritten -------------------------------------------
def test_case4_base_runs_edited_to_green(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for i in range(3):
        write_run(repo, "allocation_dual_write", f"rr-{101 + i:04d}", 101 + i, status="red", finished=f"2026-11-1{5 + i}T01:12:00Z")
    commit_all(repo, "red runs", "2026-11-18T00:00:00Z")
    ids = three_runs(repo)  # the same ids, rewritten green
    promote_dual(repo, ids)
    code, report = gate(repo, capsys)
    messages = errors(report, "evidence")
    assert code == 1 and sum("append-only" in m for m in messages) == 3, report["errors"]


def test_deleting_a_base_run_is_refused(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    three_runs(repo)
    commit_all(repo, "runs", "2026-11-18T00:00:00Z")
    (repo / "evidence/allocation_dual_write/rr-0103.json").unlink()
    code, report = gate(repo, capsys)
    assert code == 1 and any("append-only" in m for m in errors(report, "evidence"))


# --- case 5: the newest runs count ------------------------------------------------------------
def test_case5_newer_red_runs_block(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ids = three_runs(repo)
    bad = {"ledger_total": "1010000.00", "legacy_total": "1000000.00", "failed_ledger_writes": 900, "total_ledger_writes": 1000}
    write_run(repo, "allocation_dual_write", "rr-0104", 104, status="red", inputs=bad, finished="2026-11-20T05:12:00Z")
    write_run(repo, "allocation_dual_write", "rr-0105", 105, status="red", inputs=bad, finished="2026-11-20T07:12:00Z")
    promote_dual(repo, ids)
    code, report = gate(repo, capsys)
    assert code == 1 and any("rr-0104" in m and "newer than the cited runs" in m for m in errors(report, "evidence")), report
    # A newer run of another state does not block.
    for run_id in ("rr-0104", "rr-0105"):
        (repo / f"evidence/allocation_dual_write/{run_id}.json").unlink()
    write_run(repo, "allocation_dual_write", "rr-0104", 104, state="enforce", finished="2026-11-20T05:12:00Z")
    code, report = gate(repo, capsys)
    assert (code, report["errors"]) == (0, []), report


DUAL_NAME = "allocation_dual_write"
_RED = {"ledger_total": "1010000.00", "legacy_total": "1000000.00", "failed_ledger_writes": 900, "total_ledger_writes": 1000}


_MALFORMED = [  # (file name, what the run says differently, what the finding says): each would hide a newer red run
    ("rr-0104.json", {"seq": "104"}, "seq must be a whole number"),
    ("rr-0105.json", {"flag_percentage": "5"}, "flag_percentage must be a whole number"),
    ("rr-0106.json", {"flag": "allocation_read_switch"}, "is a run of allocation_read_switch"),
    ("rr-0107 .json", {}, "is not a run"),
    ("rr-0108.JSON", {}, "is not a run"),
    (".rr-0109.json", {}, "is not a run"),
    ("archive/rr-0110.json", {}, "is not a run"),
    ("rr-0111.json.sig", {}, "signs no run"),
]


@pytest.mark.parametrize("committed", [False, True], ids=["working-tree", "head"])
def test_a_newer_red_run_cannot_hide_by_being_malformed(repo: Path, capsys: pytest.CaptureFixture[str], committed: bool) -> None:
    """A run the newest-runs rule cannot read is only a warning on the base; added by the change, it is refused.

    Otherwise a red run written with a string seq or percentage, for another
    flag, or under a name no run has, would slip past the rule that the
    newest runs count (found by an attack on the gate).  Each case is its own
    file in one change, and each is named.
    """
    ids = three_runs(repo)
    for i, (name, override, _) in enumerate(_MALFORMED):
        seq = 104 + i
        red = write_run(
            repo, DUAL_NAME, f"rr-{seq:04d}", seq, status="red", inputs=_RED, finished="2026-11-20T05:12:00Z", override=override
        )
        target = red.parent / name
        target.parent.mkdir(parents=True, exist_ok=True)
        red.rename(target)
    promote_dual(repo, ids)
    extra: tuple[str, ...] = ()
    if committed:
        commit_all(repo, "promote", "2026-11-20T06:00:00Z")
        extra = ("--head", git(repo, "rev-parse", "HEAD").strip())
    code, report = gate(repo, capsys, *extra, base="HEAD~1" if committed else "HEAD")
    assert code == 1, report
    found = [(e["file"], e["message"]) for e in report["errors"] if e["rule"] == "evidence"]
    for name, _, said in _MALFORMED:
        path = f"evidence/{DUAL_NAME}/{name}"
        assert any(file == path and said in message for file, message in found), (path, said, found)


@pytest.mark.parametrize("committed", [False, True], ids=["working-tree", "head"])
def test_a_malformed_run_cited_out_of_off_is_refused(repo: Path, capsys: pytest.CaptureFixture[str], committed: bool) -> None:
    """Out of off no evidence is judged, so a run cited there is checked like any run added (attack: it passed)."""
    set_state(repo, "event_stream_enabled", "shadow", frm="off", evidence=["rr-0999"])
    runs = repo / "evidence/event_stream_enabled"
    runs.mkdir(parents=True)
    (runs / "rr-0999.json").write_text('{"run_id": "rr-0999", "seq": "999", "flag_state": "shadow", "status": "red", "inputs": {"x": 1e9')
    extra: tuple[str, ...] = ()
    if committed:
        commit_all(repo, "event stream: shadow", "2026-11-20T06:00:00Z")
        extra = ("--head", git(repo, "rev-parse", "HEAD").strip())
    code, report = gate(repo, capsys, *extra, base="HEAD~1" if committed else "HEAD")
    assert code == 1 and any("every run added must be well-formed" in m for m in errors(report, "evidence")), report


def test_newer_green_streak_after_a_red_run_passes(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    three_runs(repo, start=101)
    write_run(repo, "allocation_dual_write", "rr-0104", 104, status="red", finished="2026-11-20T02:12:00Z")
    for i, seq in enumerate((105, 106, 107)):
        write_run(repo, "allocation_dual_write", f"rr-{seq:04d}", seq, finished=f"2026-11-20T0{3 + i}:12:00Z")
    promote_dual(repo, ["rr-0105", "rr-0106", "rr-0107"])
    code, report = gate(repo, capsys)
    assert (code, report["errors"]) == (0, []), report


def test_seq_is_unique_per_flag(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ids = three_runs(repo)
    write_run(repo, "allocation_dual_write", "rr-other", 102, finished="2026-11-19T02:12:00Z")
    promote_dual(repo, ids)
    code, report = gate(repo, capsys)
    assert code == 1 and any("share seq 102" in m for m in errors(report, "evidence")), report


@pytest.mark.parametrize("committed", [False, True], ids=["working-tree", "head"])
def test_an_added_run_cannot_take_a_seq_the_flag_has(repo: Path, capsys: pytest.CaptureFixture[str], committed: bool) -> None:
    """A second seq 103, added uncited, passed; every later promotion citing rr-0103 was then refused for good (attack)."""
    three_runs(repo)
    commit_all(repo, "runs", "2026-11-20T02:00:00Z")
    write_run(repo, "allocation_dual_write", "rr-0103-again", 103, finished="2026-11-20T03:12:00Z")
    write_run(repo, "allocation_dual_write", "rr-0200", 200, finished="2026-11-20T03:13:00Z")  # a new seq: fine
    extra: tuple[str, ...] = ()
    if committed:
        commit_all(repo, "one more run", "2026-11-20T06:00:00Z")
        extra = ("--head", git(repo, "rev-parse", "HEAD").strip())
    code, report = gate(repo, capsys, *extra, base="HEAD~1" if committed else "HEAD")
    found = errors(report, "evidence")
    assert code == 1 and found == [
        "run rr-0103-again: seq 103 is already the seq of run rr-0103; each run of allocation_dual_write "
        "has its own seq: record it with a new one"
    ], report


def test_runs_must_start_after_the_flag_entered_the_state(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = new_repo(tmp_path)
    set_state(repo, "allocation_dual_write", "off", frm="shadow", reason="OPERATOR_DECISION")
    commit_all(repo, "off", "2026-11-02T00:00:00Z")
    set_state(repo, "allocation_dual_write", "shadow", frm="off")
    commit_all(repo, "shadow again", "2026-11-10T01:05:00Z")
    ids = [
        write_run(repo, "allocation_dual_write", "rr-0101", 101, started="2026-11-10T01:00:00Z", finished="2026-11-18T01:12:00Z").stem,
        write_run(repo, "allocation_dual_write", "rr-0102", 102, finished="2026-11-19T01:12:00Z").stem,
        write_run(repo, "allocation_dual_write", "rr-0103", 103, finished="2026-11-20T01:12:00Z").stem,
    ]
    promote_dual(repo, ids)
    code, report = gate(repo, capsys, now="2026-11-20T12:00:00Z")
    assert code == 1 and any("started at 2026-11-10T01:00:00Z, before the flag entered shadow" in m for m in errors(report, "evidence"))


# --- case 6: time only moves forward on the first-parent line -----------------------------------
EVENT = "event_stream_enabled"
REPLAY = {"debt_replay": "1000000.00", "debt_ground": "1000000.00"}


def _event_runs(repo: Path, day: int) -> list[str]:
    ids = []
    for i in range(3):
        run_id = f"es-{i + 1}"
        write_run(repo, EVENT, run_id, i + 1, state="shadow", inputs=REPLAY, finished=f"2026-11-{day + i}T01:12:00Z")
        ids.append(run_id)
    return ids


def _event_runs_started(repo: Path, starts: list[datetime], minutes: int) -> list[str]:
    """Event stream runs es-1.. in shadow, started at ``starts``, each ``minutes`` long."""
    ids = []
    for i, started in enumerate(starts):
        ids.append(f"es-{i + 1}")
        write_run(
            repo,
            EVENT,
            ids[-1],
            i + 1,
            state="shadow",
            inputs=REPLAY,
            started=iso(started),
            finished=iso(started + timedelta(minutes=minutes)),
        )
    return ids


def test_case6_a_backdated_commit_does_not_shorten_the_soak(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "NOTES.md").write_text("unrelated\n")
    commit_all(repo, "notes", "2026-11-20T00:00:00Z")
    set_state(repo, EVENT, "shadow", frm="off", evidence=[])
    commit_all(repo, "event stream to shadow, backdated", "2026-10-20T00:00:00Z")
    set_state(repo, EVENT, "full", frm="shadow", evidence=_event_runs(repo, 20))
    # runs the same morning, after the entry as it really happened
    _event_runs_started(repo, [datetime(2026, 11, 20, i + 1, tzinfo=UTC) for i in range(3)], 30)
    code, report = gate(repo, capsys, now="2026-11-20T12:00:00Z")
    soak = errors(report, "soak")
    assert code == 1 and soak and "2026-11-20T00:00:00Z" in soak[0], report["errors"]


def test_case6_the_same_promotion_after_a_real_soak_passes(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    set_state(repo, EVENT, "shadow", frm="off", evidence=[])
    commit_all(repo, "event stream to shadow", "2026-11-10T00:00:00Z")
    set_state(repo, EVENT, "full", frm="shadow", evidence=_event_runs(repo, 18))
    code, report = gate(repo, capsys, now="2026-11-20T12:00:00Z")
    assert (code, report["errors"]) == (0, []), report


# --- case 7: publish judges what it publishes ---------------------------------------------------
def _direct_push_to_enforce(repo: Path) -> str:
    set_state(repo, "active_reconciliation", "enforce", frm="dry", justification="invented", evidence=[])
    return commit_all(repo, "direct push: reconciliation enforce", "2026-11-19T00:00:00Z")


def test_case7_publish_refuses_an_illegal_step_since_the_last_publish(
    repo: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "public"
    (repo / "NOTES.md").write_text("x\n")
    commit_all(repo, "notes", "2026-11-18T00:00:00Z")
    assert run(["publish", "--root", str(repo), "--out", str(out)], capsys)[0] == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    _direct_push_to_enforce(repo)
    (repo / "NOTES.md").write_text("y\n")
    commit_all(repo, "later commit hides it", "2026-11-19T01:00:00Z")
    assert run(["check", "--root", str(repo)], capsys)[0] == 0  # the tree alone is fine
    code, out_text, err = run(["publish", "--root", str(repo), "--out", str(out)], capsys)
    assert code == 1 and "nothing written" in err, (out_text, err)
    assert "transition" in out_text and "not a legal step" in out_text
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_case7_first_publish_judges_the_last_step(repo: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    _direct_push_to_enforce(repo)
    code, _, _ = run(["publish", "--root", str(repo), "--out", str(tmp_path / "public")], capsys)
    assert code == 1 and not (tmp_path / "public" / "config.json").exists()


def test_publish_with_legal_steps_since(repo: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "public"
    assert run(["publish", "--root", str(repo), "--out", str(out)], capsys)[0] == 0
    set_state(repo, "active_reconciliation", "dry", frm="off", evidence=[])
    commit_all(repo, "reconciliation dry", "2026-11-03T00:00:00Z")
    set_state(repo, "outbox_enabled", "on", frm="off", evidence=[])
    commit_all(repo, "outbox on", "2026-11-04T00:00:00Z")
    code, out_text, err = run(["publish", "--root", str(repo), "--out", str(out)], capsys)
    assert code == 0, (out_text, err)
    assert json.loads((out / "config.json").read_text())["flags"]["outbox_enabled"]["percentage"] == 100


# --- case 8: CI runs a validator the pull request cannot edit ------------------------------------
def test_case8_validate_workflow_installs_the_base_validator() -> None:
    import yaml

    workflows = Path(__file__).resolve().parents[1] / ".github/workflows"
    workflow = yaml.load((workflows / "validate.yml").read_text(), Loader=yaml.BaseLoader)  # "on" stays a string
    # The definition comes from the base branch: a pull request cannot edit the workflow that judges it.
    assert set(workflow["on"]) == {"pull_request_target", "workflow_run"}, workflow["on"]
    steps = workflow["jobs"]["flags"]["steps"]
    checkouts = [s for s in steps if str(s.get("uses", "")).startswith("actions/checkout@")]
    base = [s for s in checkouts if "ref" not in s.get("with", {}) and s["with"].get("path") == "validator-at-base"]
    assert base, "the validator comes from a checkout of the base (pull_request_target's own commit), in its own directory"
    installs = [s for s in steps if "pip" in str(s.get("run", "")) and "install" in str(s.get("run", ""))]
    assert installs and all("validator-at-base" in s["run"] for s in installs), "flaggate is installed from the base checkout only"
    runs = " ".join(str(s.get("run", "")) for s in steps)
    assert "--head" in runs and "--base" in runs
    # A review re-runs it through workflow_run, never through a pull-request-editable definition.
    review = yaml.load((workflows / "review.yml").read_text(), Loader=yaml.BaseLoader)
    assert set(review["on"]) == {"pull_request_review"} and review.get("permissions") == {}
    assert "flaggate" not in (workflows / "review.yml").read_text().split("jobs:", 1)[1]


# --- principle 1: one reading ---------------------------------------------------------------------
def test_head_is_judged_from_git_objects(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = git(repo, "rev-parse", "HEAD").strip()
    set_state(repo, "outbox_enabled", "on", frm="off", evidence=[])
    head = commit_all(repo, "outbox on", "2026-11-02T00:00:00Z")
    set_state(repo, "active_reconciliation", "enforce", frm="dry", evidence=[])  # uncommitted, illegal
    code, report = gate(repo, capsys, "--head", head, base=base)
    assert (code, [m["flag"] for m in report["transitions"]]) == (0, ["outbox_enabled"]), report
    code, report = gate(repo, capsys, base=base)  # the working tree sees the illegal edit
    assert code == 1


@pytest.mark.parametrize(
    "line",
    [
        "flags/*.yaml filter=rewrite",
        "*.yaml working-tree-encoding=UTF-16",
        "policy.yaml ident",
        "evidence/** eol=crlf",
        "[attr]sneaky filter=x\n*.json sneaky",
    ],
)
def test_gitattributes_that_rewrite_bytes_are_refused(line: str, repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / ".gitattributes").write_text(line + "\n")
    three_runs(repo)
    code, out, _ = run(["check", "--root", str(repo)], capsys)
    assert code == 1 and ".gitattributes:" in out and "layout" in out, out
    head = commit_all(repo, "attributes", "2026-11-02T00:00:00Z")
    code, report = gate(repo, capsys, "--head", head, base="HEAD~1")
    assert code == 1 and errors(report, "layout")


def test_plain_text_normalisation_is_allowed(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / ".gitattributes").write_text("* text=auto eol=lf\n*.png binary\nflags/*.yaml -text diff\n")
    assert run(["check", "--root", str(repo)], capsys)[0] == 0


def test_filters_that_cannot_reach_flags_or_runs_are_allowed(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = "*.png filter=lfs\n**/*.psd filter=lfs\ndocs/*.json eol=crlf\n.github/**/*.yaml eol=lf\nflags/README.md ident\n"
    (repo / ".gitattributes").write_text(lines)
    assert run(["check", "--root", str(repo)], capsys)[0] == 0


def test_a_filter_makes_two_readers_disagree_and_is_refused(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The smudge filter turns outbox on in every checkout while the commit keeps it off.
    (repo / ".gitattributes").write_text("flags/outbox_enabled.yaml filter=flip\n")
    git(repo, "config", "filter.flip.smudge", "sed -e 's/^state: off/state: on/'")
    git(repo, "config", "filter.flip.clean", "cat")
    head = commit_all(repo, "attributes", "2026-11-02T00:00:00Z")
    code, report = gate(repo, capsys, "--head", head, base="HEAD~1")
    assert code == 1 and any("filter" in m for m in errors(report, "layout")), report


@pytest.mark.parametrize("target", ["evidence", "policy.yaml", "flags"])
def test_symlinks_at_the_top_are_refused(target: str, repo: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    three_runs(repo)
    real = tmp_path / f"real-{target}"
    os.rename(repo / target, real)
    os.symlink(real, repo / target)
    code, out, _ = run(["check", "--root", str(repo)], capsys)
    assert code == 1 and f"{target}:1:1: layout:" in out, out


def test_symlinked_run_file_is_refused(repo: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    ids = three_runs(repo)
    run_file = repo / "evidence/allocation_dual_write" / f"{ids[0]}.json"
    real = tmp_path / "run.json"
    os.rename(run_file, real)
    os.symlink(real, run_file)
    promote_dual(repo, ids)
    code, report = gate(repo, capsys)
    assert code == 1 and errors(report, "layout")


# --- principle 2: where a flag stands comes from history --------------------------------------
def test_a_completed_plan_cannot_restart_by_rewriting_the_transition_block(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _complete_backfill(repo)
    # PR 1 rewrites only the transition block so the file looks like the plan's first step.
    set_state(repo, BACKFILL, "off", frm=None, justification="rewritten")
    code, report = gate(repo, capsys)
    assert code == 0 and report["transitions"] == []
    commit_all(repo, "rewrite transition block", "2026-11-07T00:00:00Z")
    # PR 2: off -> read_only, as if the plan had not completed.
    set_state(repo, BACKFILL, "read_only", frm="off", evidence=[])
    code, report = gate(repo, capsys)
    assert code == 1 and any("complete" in m for m in errors(report, "transition")), report


def test_runs_of_a_percentage_state_name_it(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    set_state(repo, "allocation_read_switch", "canary", percentage=5, frm="off", evidence=[])
    commit_all(repo, "canary 5", "2026-11-02T00:00:00Z")
    inputs = {"ledger_total": "1000000.00", "legacy_total": "1000000.00"}
    ids = []
    for i in range(3):
        ids.append(
            write_run(repo, "allocation_read_switch", f"rs-{i}", i, state="canary", inputs=inputs, finished=f"2026-11-1{i}T01:12:00Z").stem
        )
    set_state(repo, "allocation_read_switch", "canary", percentage=25, frm="canary", from_pct=5, evidence=ids)
    code, report = gate(repo, capsys, now="2026-11-12T12:00:00Z")
    assert code == 1 and any('"flag_percentage": 5' in m for m in errors(report, "evidence")), report


# --- principle 3: amends, end to end ------------------------------------------------------------
def test_amend_in_text_output_and_the_audit_log(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(repo / DUAL, "soak_days: 7", "soak_days: 5")
    edit(repo / "policy.yaml", "green_runs: 3", "green_runs: 4")
    code, out, _ = run(["check", "--root", str(repo), "--base", "HEAD", "--now", NOW, "--format", "text"], capsys)
    assert code == 0
    assert "amend: allocation_dual_write: rollout[1].soak_days: 7 -> 5" in out
    assert "amend: policy.yaml: green_runs: 3 -> 4" in out
    sha = commit_all(repo, "soak 5, four runs", "2026-11-02T00:00:00Z")
    code, out, _ = run(["audit-log", "--root", str(repo)], capsys)
    entries = [e for e in json.loads(out) if e.get("kind") == "amend"]
    assert [(e.get("flag"), e.get("file"), e["commit"]) for e in entries] == [
        ("allocation_dual_write", None, sha),
        (None, "policy.yaml", sha),
    ]
    assert entries[0]["changes"] == [{"field": "rollout[1].soak_days", "before": 7, "after": 5}]
    assert entries[1]["changes"] == [{"field": "green_runs", "before": 3, "after": 4}]


# --- found by attacking the gate after the first round of fixes ------------------------------------
def test_first_publish_judges_the_whole_history(repo: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    _direct_push_to_enforce(repo)
    (repo / "NOTES.md").write_text("a harmless commit on top\n")
    commit_all(repo, "follow-up", "2026-11-19T00:01:00Z")
    code, out_text, _ = run(["publish", "--root", str(repo), "--out", str(tmp_path / "public")], capsys)
    assert code == 1 and "not a legal step" in out_text
    assert not (tmp_path / "public").exists() or not (tmp_path / "public" / "config.json").exists()


def test_publish_never_judges_a_step_as_later_than_now(repo: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # event stream enters shadow now-ish; the promotion commit is dated 8 days in the future.
    now = datetime.now(UTC).replace(microsecond=0)
    out = tmp_path / "public"
    assert run(["publish", "--root", str(repo), "--out", str(out)], capsys)[0] == 0
    set_state(repo, EVENT, "shadow", frm="off", evidence=[])
    commit_all(repo, "event stream to shadow", iso(now - timedelta(hours=11)))
    ids = _event_runs_started(repo, [now - timedelta(hours=10 - i) for i in range(3)], 5)
    set_state(repo, EVENT, "full", frm="shadow", evidence=ids)
    commit_all(repo, "promote, forward-dated", iso(now + timedelta(days=8)))
    code, out_text, _ = run(["publish", "--root", str(repo), "--out", str(out)], capsys)
    assert code == 1 and "soak" in out_text, out_text


def _complete_backfill(repo: Path) -> None:
    for state, frm, date in (("read_only", "off", "02"), ("active", "read_only", "04"), ("off", "active", "06")):
        set_state(repo, BACKFILL, state, frm=frm, evidence=[])
        commit_all(repo, f"backfill {state}", f"2026-11-{date}T00:00:00Z")


def test_a_change_whose_commits_delete_and_recreate_a_flag_is_refused(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _complete_backfill(repo)
    base = git(repo, "rev-parse", "HEAD").strip()
    path = flag_path(repo, BACKFILL)
    saved = path.read_bytes()
    path.unlink()
    commit_all(repo, "drop the backfill", "2026-11-07T00:00:00Z")
    path.write_bytes(saved)
    head = commit_all(repo, "bring it back", "2026-11-07T00:01:00Z")
    code, report = gate(repo, capsys, "--head", head, base=base)
    assert code == 1 and any("deleted and re-created" in m for m in errors(report, "transition")), report
    # Squashed into one commit, the same change shows no move and passes (and the plan stays complete).
    git(repo, "reset", "-q", "--soft", base)
    squashed = commit_all(repo, "squashed: no change", "2026-11-07T00:02:00Z")
    assert gate(repo, capsys, "--head", squashed, base=base)[0] == 0


def test_a_step_added_before_the_final_off_keeps_the_plan_complete(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _complete_backfill(repo)
    path = flag_path(repo, BACKFILL)
    edit(path, "  - state: off\nrequires:", "  - state: verify\n  - state: off\nrequires:")
    edit(path, "states: [off, read_only, active]", "states: [off, read_only, active, verify]")
    code, report = gate(repo, capsys)
    assert code == 0 and report["transitions"][0]["kind"] == "amend", report
    commit_all(repo, "a verify step (platform owners approved)", "2026-11-07T00:00:00Z")
    set_state(repo, BACKFILL, "read_only", frm="off", evidence=[])
    code, report = gate(repo, capsys)
    assert code == 1 and any("complete" in m for m in errors(report, "transition")), report


def test_a_commit_dated_after_year_9999_is_no_crash(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    set_state(repo, EVENT, "shadow", frm="off", evidence=[])
    git(repo, "add", "-A")
    far = {"GIT_AUTHOR_DATE": "@253402400000 +0000", "GIT_COMMITTER_DATE": "@253402400000 +0000"}
    git(repo, "commit", "-q", "-m", "far future", env=far)
    set_state(repo, EVENT, "full", frm="shadow", evidence=_event_runs(repo, 18))
    code, out, err = run(["check", "--root", str(repo), "--base", "HEAD", "--now", NOW], capsys)
    assert code == 1 and "Traceback" not in err and "internal error" not in err and "soak" in out, (out, err)
    assert "9999-12-31T23:59:59Z" in out  # the latest time a date can say


def test_publish_refuses_when_the_published_commit_left_the_first_parent_line(
    repo: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    git(repo, "branch", "laptop")
    set_state(repo, "outbox_enabled", "on", frm="off", evidence=[])
    commit_all(repo, "outbox on", "2026-11-10T00:00:00Z")
    out = tmp_path / "public"
    assert run(["publish", "--root", str(repo), "--out", str(out)], capsys)[0] == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    git(repo, "checkout", "-q", "laptop")
    (repo / "NOTES.md").write_text("local work\n")
    commit_all(repo, "local work", "2026-11-05T00:00:00Z")
    git(repo, "merge", "-q", "--no-edit", "main", date="2026-11-11T00:00:00Z")  # git pull
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "--ff-only", "laptop")  # git push: main's first parents now run through the laptop
    code, _, err = run(["publish", "--root", str(repo), "--out", str(out)], capsys)
    assert code == 2 and "no longer on the first-parent line" in err and "--since" not in err, err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


# (git reads "evidence/\\x/*.json", an escape it cannot unquote, as a pattern with quotes that matches no run)
@pytest.mark.parametrize("line", ['"flags/*.yaml" ident eol=crlf', '"evidence/\\052/*.json" filter=x'])
def test_quoted_gitattributes_patterns_are_read_as_git_reads_them(line: str, repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / ".gitattributes").write_text(line + "\n")
    three_runs(repo)
    code, out, _ = run(["check", "--root", str(repo)], capsys)
    assert code == 1 and ".gitattributes:1:1: layout:" in out, out


# --- round 2 ------------------------------------------------------------------------------------------
def test_an_amend_that_drops_the_completing_step_is_refused(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _complete_backfill(repo)
    path = flag_path(repo, BACKFILL)
    edit(path, "        min: 1\n  - state: off\nrequires:", "        min: 1\nrequires:")
    code, report = gate(repo, capsys)
    assert code == 1 and any("completed its plan" in m for m in errors(report, "amend")), report


@pytest.mark.parametrize(
    "files",
    [
        {".gitattributes": "flags/*.yaml sneaky\n[attr]sneaky filter=x\n"},  # used above its definition
        {".gitattributes": "[attr]sneaky filter=x\n", "flags/.gitattributes": "*.yaml sneaky\n"},  # defined in the root
        {".gitattributes": "[attr]inner ident\n[attr]outer inner\nflags/** outer\n"},  # through another macro
    ],
)
def test_attribute_macros_are_resolved_as_git_resolves_them(files: dict[str, str], repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name, text in files.items():
        (repo / name).write_text(text)
    code, out, _ = run(["check", "--root", str(repo)], capsys)
    assert code == 1 and ".gitattributes:" in out and ": layout:" in out, out


def test_evidence_verify_uses_the_committed_policy_and_the_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.test_signing import add_signer, keygen, record

    repo = new_repo(tmp_path)
    key, public = keygen(tmp_path, capsys, "recon-2026")
    add_signer(repo, "recon-2026", public)
    commit_all(repo, "signer", "2026-11-01T06:00:00Z")
    rogue, rogue_public = keygen(tmp_path, capsys, "rogue")
    policy = repo / "policy.yaml"
    policy.write_text(policy.read_text().replace(public, rogue_public))  # the change swaps the key
    assert record(repo, capsys, rogue, "recon-2026", 101, 18)[0] == 0
    run_file = repo / "evidence/allocation_dual_write/rr-0101.json"
    code, out, _ = run(["evidence", "verify", "--root", str(repo), str(run_file)], capsys)
    assert code == 1 and "does not verify" in out, out
    # The same bytes under another flag's directory do not count there.
    other = repo / "evidence/outbox_enabled"
    other.mkdir(parents=True)
    policy.write_text(policy.read_text().replace(rogue_public, public))
    assert record(repo, capsys, key, "recon-2026", 102, 19)[0] == 0
    for suffix in ("", ".sig"):
        (other / f"rr-0102.json{suffix}").write_bytes((repo / f"evidence/allocation_dual_write/rr-0102.json{suffix}").read_bytes())
    code, out, _ = run(["evidence", "verify", "--root", str(repo), str(other / "rr-0102.json")], capsys)
    assert code == 1 and "is a run of allocation_dual_write, not outbox_enabled" in out, out


# --- round 3 ------------------------------------------------------------------------------------------
def test_a_second_file_naming_a_flag_added_then_removed_keeps_its_history(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _complete_backfill(repo)
    base = git(repo, "rev-parse", "HEAD").strip()
    copy = repo / "flags/zz_copy.yaml"
    copy.write_text(flag_path(repo, BACKFILL).read_text())
    commit_all(repo, "a second file with the same name", "2026-11-07T00:00:00Z")
    copy.unlink()
    commit_all(repo, "removed again", "2026-11-07T01:00:00Z")  # merged without a merge commit
    set_state(repo, BACKFILL, "read_only", frm="off", evidence=[])
    code, report = gate(repo, capsys)
    assert code == 1 and any("complete" in m for m in errors(report, "transition")), report
    assert gate(repo, capsys, base=base)[0] == 1


def test_an_unreadable_blob_is_named_at_its_own_path(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (repo / "flags/a.yaml").write_text("name: [unclosed\n")
    commit_all(repo, "unreadable at a.yaml", "2026-11-02T00:00:00Z")
    (repo / "flags/a.yaml").unlink()
    commit_all(repo, "gone", "2026-11-03T00:00:00Z")
    run(["audit-log", "--root", str(repo)], capsys)  # keeps a walk here
    flag_path(repo, BACKFILL).write_text("name: [unclosed\n")  # the same blob, another path
    commit_all(repo, "unreadable at the backfill's path", "2026-11-04T00:00:00Z")
    kept = run(["audit-log", "--root", str(repo)], capsys)[1]
    monkeypatch.setenv("FLAGGATE_NO_CACHE", "1")
    fresh = run(["audit-log", "--root", str(repo)], capsys)[1]
    assert kept == fresh
    assert f"no entry: flags/{BACKFILL}.yaml:2:1:" in fresh and "no entry: flags/a.yaml:2:1:" in fresh


# --- round 5 ------------------------------------------------------------------------------------------
def test_a_gitattributes_pattern_cannot_stall_the_check(repo: Path) -> None:
    # `*a*a*...Z` against a long run name was exponential for a backtracking regex: CI spun for hours.
    import subprocess
    import sys

    write_run(repo, DUAL_NAME, "a" * 40, seq=1, status="red")
    (repo / ".gitattributes").write_text("*a*a*a*a*a*a*a*a*a*a*a*a*Z filter=lfs\n")
    # Committed with plumbing: git's own pattern matching (git add, git commit) stalls on this line too.
    for path in (".gitattributes", f"evidence/{DUAL_NAME}/{'a' * 40}.json"):
        blob = git(repo, "hash-object", "-w", "--no-filters", path).strip()
        git(repo, "update-index", "--add", "--cacheinfo", f"100644,{blob},{path}")
    tree = git(repo, "write-tree").strip()
    head = git(repo, "commit-tree", tree, "-p", "HEAD", "-m", "a run", date="2026-11-02T00:00:00Z").strip()
    git(repo, "update-ref", "HEAD", head)
    argv = [sys.executable, "-m", "validator", "check", "--root", str(repo), "--base", "HEAD~1", "--head", head, "--now", NOW]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr  # a red run recorded: nothing moves


@pytest.mark.parametrize("ignorecase", ["false", "true"])
def test_gitattributes_lines_match_at_least_what_git_matches(tmp_path: Path, ignorecase: str) -> None:
    """Against git's own check-attr, from the file's bytes: every path git gives the attribute, the
    layout rule sees too (lines, blanks, quoting, byte order mark, classes, case)."""
    import random
    import subprocess

    from validator.rules import layout

    rng = random.Random(20261127)
    pieces = ["a", "b", "A", "/", "*", "**", "?", "[", "]", "!", "^", "-", ".", "z", "\\", ":", "[:alpha:]", "[:digit:]", "[A-B]", "é"]
    pieces += ["\x0c", "\xa0", "\x1f", "\x85"]  # not blanks to git, blanks or line ends to Python
    git(tmp_path, "init", "-q")
    git(tmp_path, "config", "core.ignorecase", ignorecase)
    checked = 0
    for _ in range(25):
        lines, patterns = [], []
        for i in range(20):
            pattern = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 8)))
            if pattern.startswith(("!", "#", "[attr]")) or not pattern.strip("/"):
                continue
            written = pattern
            if rng.random() < 0.3:  # C-quoted, some characters as octal escapes
                written = (
                    '"' + "".join(f"\\{ord(c):03o}" if rng.random() < 0.3 and ord(c) < 0o400 else c for c in pattern.replace('"', "")) + '"'
                )
            blank = rng.choice([" ", "\t", "  "])
            lead, end = rng.choice(["", " ", "\t"]), rng.choice(["", "\r"])
            lines.append(f"{lead}{written}{blank}filter=v{i}{end}")
            patterns.append(pattern)
        raw = (b"\xef\xbb\xbf" if rng.random() < 0.3 else b"") + "\n".join(lines).encode("utf-8") + b"\n"
        (tmp_path / ".gitattributes").write_bytes(raw)
        paths = set()
        for pattern in patterns:  # paths near each pattern (wildcards filled, letters in either case), and others
            for _ in range(4):
                near = "".join(
                    rng.choice(["", "a", "b/a", ":", "[", "\xa0"]) if c in "*?[]\\" else rng.choice([c, c.swapcase()]) for c in pattern
                )
                parts = [p for p in near.split("/") if p]
                if parts and not {".", ".."} & set(parts):  # git would read these as other paths
                    paths.add("/".join(parts))
        for _ in range(40):
            parts = ["".join(rng.choice("abAB.z-[]:é\x0c") for _ in range(rng.randint(1, 4))) for _ in range(rng.randint(1, 3))]
            if not {".", ".."} & set(parts):
                paths.add("/".join(parts))
        out = subprocess.run(
            ["git", "check-attr", "--stdin", "-z", "filter"],
            cwd=tmp_path,
            input=("\0".join(sorted(paths)) + "\0").encode("utf-8"),
            capture_output=True,
        ).stdout.split(b"\0")
        rules = {attrs[-1]: pattern for _, _, pattern, attrs in layout._lines(raw.decode("latin-1")) if attrs}
        for i in range(0, len(out) - 2, 3):
            value = out[i + 2].decode("latin-1")
            if value.startswith("v"):
                path = layout._as_bytes(out[i].decode("utf-8"))
                assert f"filter={value}" in rules and layout._matches(rules[f"filter={value}"], path), (raw, value, out[i])
                checked += 1
    assert checked > 300


def test_a_requirement_cannot_apply_while_the_flag_is_off(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A new flag at off that "needs" dual write in shadow while off pinned dual write: its emergency
    # disable (shadow -> off) was refused, and the create needed no approval of dual write's owners.
    path = flag_path(repo, "outbox_enabled")
    edit(
        path,
        "requires:\n  resources: [outbox]\n",
        "requires:\n  resources: [outbox]\n  flags:\n    - flag: allocation_dual_write\n      in: [shadow]\n      when: [off, on]\n",
    )
    code, out, _ = run(["check", "--root", str(repo)], capsys)
    assert code == 1 and "applies when outbox_enabled is off" in out and "consistency" in out, out
    edit(path, "when: [off, on]", "when: [on]")
    assert run(["check", "--root", str(repo)], capsys)[0] == 0


def test_with_signers_a_run_nobody_signed_cannot_be_added(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Evidence is append-only: a made-up red run with a huge seq, once merged, blocked every later
    # promotion of the flag, signed runs and all.
    from tests.test_signing import add_signer, keygen

    repo = new_repo(tmp_path)
    _, public = keygen(tmp_path, capsys, "recon-2026")
    add_signer(repo, "recon-2026", public)
    commit_all(repo, "signer", "2026-11-01T06:00:00Z")
    write_run(repo, DUAL_NAME, "rr-9999", seq=999999, status="red")
    code, report = gate(repo, capsys)
    assert code == 1 and any("run rr-9999 is not signed" in m for m in errors(report, "evidence")), report
    head = commit_all(repo, "a run", "2026-11-02T00:00:00Z")
    code, report = gate(repo, capsys, "--head", head, base="HEAD~1")
    assert code == 1 and any("run rr-9999 is not signed" in m for m in errors(report, "evidence")), report


def test_a_run_id_with_a_space_is_judged_alike_from_git_objects(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # git cat-file answers "<name> missing" for a name with a space as three fields: an internal error (2).
    promote_dual(repo, evidence=["rr 0101", "rr-0102", "rr-0103"])
    code, report = gate(repo, capsys)
    assert code == 1 and errors(report, "evidence"), report
    head = commit_all(repo, "promote", "2026-11-20T06:00:00Z")
    code, report = gate(repo, capsys, "--head", head, base="HEAD~1")
    assert code == 1 and errors(report, "evidence"), report


def test_a_promotion_cites_at_most_a_hundred_runs(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # 15,000 cited ids took 39 s: each missing one was read by a git process of its own.
    promote_dual(repo, evidence=[f"rr-{i:05d}" for i in range(101)])
    code, out, _ = run(["check", "--root", str(repo)], capsys)
    assert code == 1 and "schema" in out and "transition.evidence" in out, out
    promote_dual(repo, evidence=[f"rr-{i:05d}" for i in range(100)])
    head = commit_all(repo, "promote", "2026-11-20T06:00:00Z")
    code, report = gate(repo, capsys, "--head", head, base="HEAD~1")
    assert code == 1 and len(errors(report, "evidence")) >= 1, report


def test_a_flag_file_named_with_a_line_break_is_judged_alike_from_git_objects(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "flags" / "odd\nname.yaml").write_bytes(flag_path(repo, "outbox_enabled").read_bytes())
    code, _ = gate(repo, capsys)
    assert code == 1
    head = commit_all(repo, "odd name", "2026-11-02T00:00:00Z")
    code, report = gate(repo, capsys, "--head", head, base="HEAD~1")
    assert code == 1 and report["errors"], report  # was 2: the file was asked of git by its name


def test_an_attributes_file_of_thousands_of_filter_lines_is_refused_at_a_line(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from validator.rules import layout

    lines = [f"*.bin{i} filter=lfs" for i in range(layout.MAX_CHECKED_LINES + 50)]
    (repo / ".gitattributes").write_text("* text=auto\n" + "\n".join(lines) + "\n")
    code, out, _ = run(["check", "--root", str(repo)], capsys)
    assert code == 1 and f".gitattributes:{layout.MAX_CHECKED_LINES + 2}:1: layout: more than" in out, out
    (repo / ".gitattributes").write_text("* text=auto\n" + "\n".join(lines[: layout.MAX_CHECKED_LINES]) + "\n")
    assert run(["check", "--root", str(repo)], capsys)[0] == 0


def test_a_merge_into_the_base_cannot_hide_a_delete_and_recreate(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The head merges a branch into the base itself (first parent: the base): its commits were never
    # replayed, and a rebase merge would write them into the history, restarting the completed plan.
    _complete_backfill(repo)
    base = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "checkout", "-q", "-b", "side")
    path = flag_path(repo, BACKFILL)
    saved = path.read_bytes()
    path.unlink()
    commit_all(repo, "drop the backfill", "2026-11-07T00:00:00Z")
    path.write_bytes(saved)
    commit_all(repo, "bring it back", "2026-11-07T00:01:00Z")
    git(repo, "checkout", "-q", "--detach", base)
    git(repo, "merge", "-q", "--no-ff", "--no-edit", "side", date="2026-11-07T00:02:00Z")
    head = git(repo, "rev-parse", "HEAD").strip()
    code, report = gate(repo, capsys, "--head", head, base=base)
    assert code == 1 and any("deleted and re-created" in m for m in errors(report, "transition")), report


@pytest.mark.parametrize("flag", ["outbox_enabled", BACKFILL])
def test_a_branch_brought_up_to_date_is_not_refused_for_what_the_base_did(
    flag: str, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GitHub's "Update branch": the base completed the backfill's plan after the branch started; the
    # merge's own diff carries it, and the head's first-parent line saw the backfill at its first off
    # (round 7: also when the branch edits the backfill's own file; a rebase writes its edit alone).
    git(repo, "checkout", "-q", "-b", "pr")
    path = flag_path(repo, flag)
    path.write_text("# reviewed\n" + path.read_text())
    commit_all(repo, "a comment", "2026-11-01T12:00:00Z")
    git(repo, "checkout", "-q", "main")
    _complete_backfill(repo)
    base = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "checkout", "-q", "pr")
    git(repo, "merge", "-q", "--no-edit", "main", date="2026-11-07T00:00:00Z")
    head = git(repo, "rev-parse", "HEAD").strip()
    code, report = gate(repo, capsys, "--head", head, base=base)
    assert code == 0, report


# --- round 6 ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "line",
    [
        b"flags/[[:alpha:]]*.yaml filter=evil",  # the "]" of ":]" does not close the bracket
        b"flags/[[:alpha:]x]utbox_enabled.yaml filter=evil",
        b"flags/[\x0ca-z]*.yaml filter=evil",  # a form feed is no line end to git
        b"flags/[\xc2\xa0a-z]*.yaml filter=evil",  # nor is a no-break space a blank
        b"\xef\xbb\xbfflags/*.yaml filter=evil",  # git skips a byte order mark
        b'"fl\\141gs/*.yaml" filter=evil',  # octal escape in a quoted pattern
        b"FLAGS/*.YAML eol=crlf",  # applies in a clone with core.ignorecase (macOS, Windows)
        b'"[attr] crlfy" eol=crlf\nflags/*.yaml crlfy',  # git names the macro after the blanks
        b'"[attr]crlfy\\000x" eol=crlf\nflags/*.yaml crlfy',  # and up to an escaped NUL
        b'"flags/*.yaml\\000x" working-tree-encoding=UTF-16LE',  # a quoted pattern ends at an escaped NUL
        b"flags/partial_allocation_ui.yaml filter=lfs",  # a flag not created yet
        b"evidence/outbox_enabled/** working-tree-encoding=UTF-16LE",  # runs of a flag that has none yet
        b"flags/p* filter=lfs",  # ... and the same where a wildcard or bracket covers the end
        b"flags/partial_allocation_ui.[y]aml filter=lfs",
        b"evidence/allocation_dual_write/rr-09* working-tree-encoding=UTF-16LE",
        b"flags/*_ui.y?ml eol=crlf",
    ],
)
def test_gitattributes_read_as_git_reads_them(line: bytes, repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / ".gitattributes").write_bytes(line + b"\n")
    code, out, _ = run(["check", "--root", str(repo)], capsys)
    assert code == 1 and ".gitattributes:" in out and ": layout:" in out, out
    blob = git(repo, "hash-object", "-w", "--no-filters", ".gitattributes").strip()
    git(repo, "update-index", "--add", "--cacheinfo", f"100644,{blob},.gitattributes")
    tree = git(repo, "write-tree").strip()
    head = git(repo, "commit-tree", tree, "-p", "HEAD", "-m", "attributes", date="2026-11-02T00:00:00Z").strip()
    code, report = gate(repo, capsys, "--head", head)
    assert code == 1 and errors(report, "layout"), report


def test_attributes_that_took_quadratic_time_are_quick(repo: Path) -> None:
    # 80 lines of 2,000 unclosed "[" (each scanned to the end once per "["), and a chain of 10,000
    # macros (one pass over all of them per link): minutes each, for lines that rewrite nothing.
    import subprocess
    import sys

    brackets = "".join(f"x{i}{'[' * 2000} filter=x\n" for i in range(80))
    chain = "".join(f"[attr]m{i} m{i + 1}\n" for i in range(10_000)) + "[attr]m10000 filter=x\n"
    (repo / ".gitattributes").write_text(brackets + chain)
    argv = [sys.executable, "-m", "validator", "check", "--root", str(repo)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("signed", [False, True])
def test_names_with_line_breaks_under_evidence_are_findings(signed: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # git's batch read takes one name a line: asking it for "evidence/a\nb/rr.json" by name was an
    # internal error (exit 2) where the file is simply not a run (exit 1).
    from tests.test_signing import add_signer, keygen

    repo = new_repo(tmp_path)
    if signed:
        _, public = keygen(tmp_path, capsys, "recon-2026")
        add_signer(repo, "recon-2026", public)
        commit_all(repo, "signer", "2026-11-01T06:00:00Z")
    odd = repo / "evidence/a\nb"
    odd.mkdir(parents=True)
    (odd / "rr-1.json.sig").write_text("{}\n")
    (repo / "evidence" / DUAL_NAME).mkdir(exist_ok=True)
    (repo / "evidence" / DUAL_NAME / "c\nd.json").write_text("{}\n")
    head = commit_all(repo, "odd names", "2026-11-02T00:00:00Z")
    code, report = gate(repo, capsys, "--head", head, base="HEAD~1")
    assert code == 1 and len(errors(report, "evidence")) >= 2, report


def _git_processes(tmp_path: Path, work: Any) -> tuple[Any, int]:
    """What ``work()`` gives, and how many git processes it started (git's own trace)."""
    trace = tmp_path / "trace.json"
    os.environ["GIT_TRACE2_EVENT"] = str(trace)
    try:
        result = work()
    finally:
        del os.environ["GIT_TRACE2_EVENT"]
    return result, sum(1 for line in trace.read_text().splitlines() if '"event":"start"' in line)


def test_one_run_added_beside_thousands_reads_them_in_one_git_process(
    repo: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # The seq check read every run of the flag through a git process of its own: 5,000 runs, 13 s.
    for seq in range(1, 2001):
        write_run(repo, DUAL_NAME, f"rr-{seq:05d}", seq=seq, status="red")
    commit_all(repo, "2,000 runs", "2026-11-01T06:00:00Z")
    write_run(repo, DUAL_NAME, "rr-02001", seq=2001, status="red")
    head = commit_all(repo, "one more", "2026-11-02T00:00:00Z")
    (code, report), started = _git_processes(tmp_path, lambda: gate(repo, capsys, "--head", head, base="HEAD~1"))
    assert code == 0, report
    assert started < 60, started


def _walks_counted(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of commits of each first-parent history listed from now on (nothing kept)."""
    from validator import history

    walked: list[int] = []
    real = history.first_parent_log

    def counting(root: Path, rev: str, paths: Any, **kwargs: Any) -> list[history.Commit]:
        commits = real(root, rev, paths, **kwargs)
        walked.append(len(commits))
        return commits

    monkeypatch.setattr(history, "first_parent_log", counting)
    monkeypatch.setenv("FLAGGATE_NO_CACHE", "1")
    return walked


def test_a_head_merging_many_branches_walks_the_history_once(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # An octopus of the base and 25 one-commit branches replayed the whole history once per branch.

    path = flag_path(repo, "outbox_enabled")
    for i in range(30):
        path.write_text(f"# revision {i}\n" + path.read_text().split("\n", 1)[1] if i else f"# revision {i}\n" + path.read_text())
        commit_all(repo, f"revision {i}", f"2026-11-01T{i // 60:02d}:{i % 60:02d}:00Z")
    base = git(repo, "rev-parse", "HEAD").strip()
    other = flag_path(repo, "active_reconciliation")
    tips = []
    for i in range(8):
        git(repo, "checkout", "-q", "-B", f"b{i}", base)
        other.write_text(other.read_text() + f"# note {i}\n")
        tips.append(commit_all(repo, f"b{i}", f"2026-11-02T00:{i:02d}:00Z"))
    git(repo, "checkout", "-q", base)
    other.write_text(other.read_text() + "".join(f"# note {i}\n" for i in range(8)))
    git(repo, "add", "-A")
    tree = git(repo, "write-tree").strip()
    parents = [arg for tip in tips for arg in ("-p", tip)]
    head = git(repo, "commit-tree", tree, "-p", base, *parents, "-m", "octopus", date="2026-11-03T00:00:00Z").strip()
    walked = _walks_counted(monkeypatch)
    code, report = gate(repo, capsys, "--head", head, base=base)
    assert code == 0, report
    assert sum(walked) < 3 * 32 + 8 * 2, walked  # the history to the base a few times at most, not once per branch


def test_a_root_below_the_top_level_is_not_judged_from_git(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Git objects are named from the top level, the working tree from the root: below the top level
    # the gate read another policy.yaml and resources.yaml than the root's, and passed.
    import shutil

    top = new_repo(tmp_path)
    shutil.copytree(top / "flags", top / "cfg/flags")
    for name in ("policy.yaml", "resources.yaml"):
        shutil.copy(top / name, top / "cfg" / name)
    commit_all(top, "a second flag repository below the top", "2026-11-02T00:00:00Z")
    code, _, err = run(["check", "--root", str(top / "cfg"), "--base", "HEAD", "--head", "HEAD"], capsys)
    assert code == 2 and "not the top level" in err, err


def test_lone_signatures_are_read_in_a_few_git_processes(repo: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # Each added .sig read the run beside it through a git process of its own (8,000: 30 s).
    runs = repo / "evidence" / DUAL_NAME
    runs.mkdir(parents=True, exist_ok=True)
    for i in range(500):
        (runs / f"r{i}.json.sig").write_text("{}\n")
    head = commit_all(repo, "signatures", "2026-11-02T00:00:00Z")
    (code, report), started = _git_processes(tmp_path, lambda: gate(repo, capsys, "--head", head, base="HEAD~1"))
    assert code == 1 and len(errors(report, "evidence")) == 500, report
    assert started < 60, started


def test_publish_walks_the_history_once_for_many_merged_pull_requests(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Each merged pull request's step replayed the whole history for hidden steps: quadratic (800: minutes).

    path = flag_path(repo, "outbox_enabled")
    for i in range(30):
        git(repo, "checkout", "-q", "-B", "pr", "main")
        path.write_text(f"# revision {i}\n" + path.read_text())
        commit_all(repo, f"revision {i}", f"2026-11-01T{i // 30:02d}:{2 * (i % 30):02d}:00Z")
        git(repo, "checkout", "-q", "main")
        git(repo, "merge", "-q", "--no-ff", "--no-edit", "pr", date=f"2026-11-01T{i // 30:02d}:{2 * (i % 30) + 1:02d}:00Z")
    walked = _walks_counted(monkeypatch)
    code, _, err = run(["publish", "--root", str(repo), "--out", str(tmp_path / "out")], capsys)
    assert code == 0, err
    assert sum(walked) < 200, walked  # about the 31 first-parent steps a few times; once per step is about 1,000


def test_commits_merged_in_from_another_branch_are_replayed_too(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A side branch that deletes and re-creates the completed backfill, merged into the pull request
    # (not into the base): its commits reach the head through a second parent, and a rebase writes them.
    _complete_backfill(repo)
    base = git(repo, "rev-parse", "HEAD").strip()
    path = flag_path(repo, BACKFILL)
    saved = path.read_bytes()
    git(repo, "checkout", "-q", "-b", "side")
    path.unlink()
    commit_all(repo, "drop the backfill", "2026-11-07T00:00:00Z")
    path.write_bytes(saved)
    commit_all(repo, "bring it back", "2026-11-07T00:01:00Z")
    git(repo, "checkout", "-q", "-b", "pr", base)
    edit(flag_path(repo, "outbox_enabled"), "description: ", "description: Reworded. ")
    commit_all(repo, "reword", "2026-11-07T00:02:00Z")
    git(repo, "merge", "-q", "--no-ff", "--no-edit", "side", date="2026-11-07T00:03:00Z")
    head = git(repo, "rev-parse", "HEAD").strip()
    code, report = gate(repo, capsys, "--head", head, base=base)
    assert code == 1 and any("deleted and re-created" in m for m in errors(report, "transition")), report


# --- round 7 ------------------------------------------------------------------------------------------
def test_a_second_file_added_and_removed_by_the_commits_moves_its_flag(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # flags/zz.yaml naming the completed backfill at read_only, added then removed: the change as a
    # whole is empty, but rebased its commits put the backfill back at its first step.
    _complete_backfill(repo)
    base = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "checkout", "-q", "-b", "sneak")
    second = repo / "flags/zz.yaml"
    second.write_text(flag_path(repo, BACKFILL).read_text().replace("\nstate: off", "\nstate: read_only", 1))
    commit_all(repo, "wip", "2026-11-10T00:00:00Z")
    second.unlink()
    head = commit_all(repo, "oops, remove", "2026-11-10T00:01:00Z")
    code, report = gate(repo, capsys, "--head", head, base=base)
    assert code == 1 and any(BACKFILL in m for m in errors(report, "transition")), report


@pytest.mark.parametrize(
    "name",
    [
        ".GITATTRIBUTES",
        ".gitattributeſ",  # ſ (U+017F) is "S" upper-cased, as NTFS and APFS compare names
        "Flags/zz.yaml",
        "Policy.yaml",
        "polıcy.yaml",  # ı (U+0131) is "I" upper-cased
        f"evidence/{DUAL_NAME}/.GitAttributes",
        f"evidence/{DUAL_NAME}/RR-0101.json",
    ],
)
def test_names_that_a_case_insensitive_checkout_makes_one_are_refused(name: str, repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # On macOS or Windows, .GITATTRIBUTES is read as .gitattributes, Flags/ is flags/, and of two runs
    # differing in case one overwrites the other: a clone holds what the check never saw.
    three_runs(repo)
    path = repo / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("flags/*.yaml working-tree-encoding=UTF-16LE\n" if "ttributes" in name.lower() else "x: 1\n")
    head = commit_all(repo, "a second spelling", "2026-11-02T00:00:00Z")
    code, report = gate(repo, capsys, "--head", head, base="HEAD~1")
    assert code == 1 and any("only in case" in m for m in errors(report, "layout")), report


# --- round 8 ------------------------------------------------------------------------------------------
def test_a_merge_that_undoes_a_promotion_is_judged_by_what_a_rebase_keeps(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A promotes outbox; a merge of main puts main's file back; B rewords.  As a whole a reword, and the
    # replay read B's whole file (off); a rebase applies B's diff on top of A: outbox on, unjudged.
    path = flag_path(repo, "outbox_enabled")
    before = path.read_text()
    git(repo, "checkout", "-q", "-b", "pr")
    set_state(repo, "outbox_enabled", "on", frm="off", evidence=[])
    commit_all(repo, "A: outbox on", "2026-11-02T00:00:00Z")
    git(repo, "checkout", "-q", "main")
    (repo / "notes.txt").write_text("x\n")
    commit_all(repo, "unrelated", "2026-11-02T01:00:00Z")
    base = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "checkout", "-q", "pr")
    git(repo, "merge", "-q", "--no-commit", "main")
    path.write_text(before)
    commit_all(repo, "M: merge main", "2026-11-02T02:00:00Z")
    edit(path, "description: ", "description: Reworded. ")
    head = commit_all(repo, "B: reword", "2026-11-02T03:00:00Z")
    code, report = gate(repo, capsys, "--head", head, base=base)
    assert code == 1 and any("outbox_enabled" in m for m in errors(report, "transition")), report


def test_a_branch_editing_a_flag_main_moved_then_brought_up_to_date_passes(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The branch rewords outbox while main turns it on; the branch merges main.  The replay read the
    # reword's whole file (off) as a step back; a rebase applies the reword to main's file.
    git(repo, "checkout", "-q", "-b", "pr")
    edit(flag_path(repo, "outbox_enabled"), "description: ", "description: Reworded. ")
    commit_all(repo, "reword", "2026-11-02T00:00:00Z")
    git(repo, "checkout", "-q", "main")
    set_state(repo, "outbox_enabled", "on", frm="off", evidence=[])
    base = commit_all(repo, "outbox on", "2026-11-02T01:00:00Z")
    git(repo, "checkout", "-q", "pr")
    git(repo, "merge", "-q", "--no-edit", "main", date="2026-11-02T02:00:00Z")
    head = git(repo, "rev-parse", "HEAD").strip()
    code, report = gate(repo, capsys, "--head", head, base=base)
    assert code == 0, report


# --- round 9 ------------------------------------------------------------------------------------------
def _turn_outbox_on(repo: Path) -> None:
    set_state(repo, "outbox_enabled", "on", frm="off", evidence=[])


def test_a_commit_whose_flag_part_the_base_has_is_still_replayed(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Main turned outbox on and reverted it; the branch made the same flag change with a note, then
    # picked the revert.  Compared by their flag files alone both commits look picked already; a
    # rebase drops only the revert (the other changes notes.txt too) and leaves outbox on, unjudged.
    (repo / "notes.txt").write_text("a\n")
    commit_all(repo, "notes", "2026-11-01T00:10:00Z")
    git(repo, "branch", "pr")
    _turn_outbox_on(repo)
    on = commit_all(repo, "outbox on", "2026-11-02T00:00:00Z")
    git(repo, "revert", "--no-edit", "HEAD", date="2026-11-02T01:00:00Z")
    revert = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "checkout", "-q", "pr")
    git(repo, "cherry-pick", "-n", on)
    (repo / "notes.txt").write_text("a\nb\n")
    commit_all(repo, "outbox on, and a note", "2026-11-03T00:00:00Z")
    git(repo, "cherry-pick", revert, date="2026-11-03T01:00:00Z")
    head = git(repo, "rev-parse", "HEAD").strip()
    code, report = gate(repo, capsys, "--head", head, base="main")
    assert code == 1 and any("outbox_enabled" in m for m in errors(report, "transition")), report


def test_a_branch_updated_with_a_resolved_conflict_passes(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A comment beside outbox's state; main turns it on; "Update branch" needs the conflict resolved.
    # No rebase can write the branch's commit onto main, so no rebase merge can hide a step: nothing
    # to replay (reading the commit's whole file said "moved back").
    path = flag_path(repo, "outbox_enabled")
    git(repo, "checkout", "-q", "-b", "pr")
    edit(path, "\nstate: off\n", "\n# state: changed only through a reviewed PR\nstate: off\n")
    commit_all(repo, "a comment", "2026-11-02T00:00:00Z")
    git(repo, "checkout", "-q", "main")
    _turn_outbox_on(repo)
    base = commit_all(repo, "outbox on", "2026-11-02T01:00:00Z")
    head = _update_with_a_conflict(repo, path, ("\nstate: on\n", "\n# state: changed only through a reviewed PR\nstate: on\n"))
    code, report = gate(repo, capsys, "--head", head, base=base)
    assert code == 0, report


def _update_with_a_conflict(repo: Path, path: Path, resolution: tuple[str, str]) -> str:
    """On branch pr: merge main, which conflicts in ``path``, resolved as main's file with ``resolution`` made."""
    import subprocess

    git(repo, "checkout", "-q", "pr")
    assert subprocess.run(["git", "merge", "-q", "main"], cwd=repo, capture_output=True).returncode != 0  # a conflict
    git(repo, "checkout", "main", "--", str(path.relative_to(repo)))
    edit(path, *resolution)
    return commit_all(repo, "merge main, conflict resolved", "2026-11-02T02:00:00Z")


# --- round 10 -----------------------------------------------------------------------------------------
def test_a_promotion_in_a_branch_updated_with_a_resolved_conflict_passes(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # When a commit's change did not apply, the replay took "no commits" for the flags' history and
    # refused every legal move of the pull request as hidden.
    other = flag_path(repo, "event_stream_enabled")
    git(repo, "checkout", "-q", "-b", "pr")
    _turn_outbox_on(repo)
    edit(other, "\nstate: ", "\n# the branch's note\nstate: ")
    commit_all(repo, "outbox on, a note", "2026-11-02T00:00:00Z")
    git(repo, "checkout", "-q", "main")
    edit(other, "\nstate: ", "\n# main's note\nstate: ")
    base = commit_all(repo, "main's note", "2026-11-02T01:00:00Z")
    head = _update_with_a_conflict(repo, other, ("\n# main's note\n", "\n# main's note\n# the branch's note\n"))
    code, report = gate(repo, capsys, "--head", head, base=base)
    assert not any("take it where" in m for m in errors(report, "transition")), report


# --- round 11 -----------------------------------------------------------------------------------------
def _refused_direct_push(repo: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """Published; then a direct push promotes dual write with no evidence, and the push's publish refuses it."""
    assert run(["publish", "--root", str(repo), "--out", str(out)], capsys)[0] == 0
    set_state(repo, "allocation_dual_write", "enforce", frm="shadow", evidence=[])
    bad = commit_all(repo, "dual write -> enforce, no evidence (direct push)", "2026-11-10T00:00:00Z")
    assert run(["publish", "--root", str(repo), "--out", str(out)], capsys)[0] == 1
    return bad


def _published_state(out: Path, flag: str) -> str:
    return str(json.loads((out / "config.json").read_text())["flags"][flag]["state"])


@pytest.mark.parametrize("since", ["the refused step", "a later commit"])
def test_publish_since_does_not_pass_over_a_refused_step_it_does_not_undo(
    repo: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path, since: str
) -> None:
    # publish.yml's workflow_dispatch input `since` skipped every step before it: set to the refused
    # step itself (or anything after it), a state no gate accepted was published (attack round 11, F7).
    out = tmp_path / "public"
    bad = _refused_direct_push(repo, out, capsys)
    (repo / "NOTES.md").write_text("tidy\n")
    later = commit_all(repo, "tidy", "2026-11-10T00:10:00Z")
    code, text, err = run(
        ["publish", "--root", str(repo), "--out", str(out), "--since", bad if since == "the refused step" else later], capsys
    )
    assert code == 1 and "passed over with --since" in text and "evidence" in text, text + err
    assert _published_state(out, "allocation_dual_write") == "shadow"


def test_publish_since_a_revert_passes_over_the_refused_step(repo: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "public"
    set_state(repo, "outbox_enabled", "on", frm="off", evidence=[])  # a legal step before, in the window: judged alone
    commit_all(repo, "outbox on", "2026-11-09T00:00:00Z")
    bad = _refused_direct_push(repo, out, capsys)
    git(repo, "revert", "--no-edit", bad, date="2026-11-10T01:00:00Z")
    revert = git(repo, "rev-parse", "HEAD").strip()
    assert run(["publish", "--root", str(repo), "--out", str(out)], capsys)[0] == 1  # still refused without --since
    set_state(repo, "active_reconciliation", "dry", frm="off", evidence=[])  # a step after: judged as ever
    commit_all(repo, "reconciliation dry", "2026-11-10T02:00:00Z")
    code, text, err = run(["publish", "--root", str(repo), "--out", str(out), "--since", revert], capsys)
    assert code == 0, text + err
    assert _published_state(out, "allocation_dual_write") == "shadow" and _published_state(out, "active_reconciliation") == "dry"


def _backfill(repo: Path, state: str, frm: str, date: str, message: str) -> str:
    set_state(repo, BACKFILL, state, frm=frm)
    return commit_all(repo, message, date)


_CONFIGS = [  # a clone's or user's git configuration that changed what the history read said (attack round 11)
    ("log.showRoot", "false"),
    ("i18n.logOutputEncoding", "UTF-16"),
    ("color.ui", "always"),
    ("color.diff", "always"),
    ("diff.noprefix", "true"),
    ("diff.context", "0"),
    ("diff.external", "false"),
    ("log.follow", "true"),
]


@pytest.mark.parametrize(("key", "value"), _CONFIGS, ids=[k for k, _ in _CONFIGS])
def test_git_configuration_changes_no_verdict(repo: Path, capsys: pytest.CaptureFixture[str], key: str, value: str) -> None:
    """The hidden steps of a branch (the backfill's plan completed in its commits) and a completed plan
    reopened: refused with any configuration; the audit log is the same."""
    clean = run(["audit-log", "--root", str(repo)], capsys)
    git(repo, "checkout", "-q", "-b", "pr")
    _backfill(repo, "read_only", "off", "2026-11-02T00:00:00Z", "backfill read_only")
    _backfill(repo, "active", "read_only", "2026-11-03T00:00:00Z", "backfill active")
    head = _backfill(repo, "off", "active", "2026-11-04T00:00:00Z", "backfill off: plan complete")
    git(repo, "checkout", "-q", "main")
    edit(flag_path(repo, BACKFILL), "\nname: ", "\n# main's comment, far from the state line\nname: ")
    base = commit_all(repo, "main: a comment", "2026-11-05T00:00:00Z")
    git(repo, "config", key, value)
    code, report = gate(repo, capsys, "--head", head, base=base, now="2026-11-06T00:00:00Z")
    assert code == 1 and any("commits of this change take it" in m for m in errors(report, "transition")), report
    assert run(["audit-log", "--root", str(repo), "--rev", clean_rev(repo)], capsys) == clean
    # The plan completed on main (the branch rebased onto it), then a pull request reopens it.
    git(repo, "config", "--unset", key)
    git(repo, "rebase", "-q", "main", "pr")
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "--ff-only", "pr")
    completed = run(["audit-log", "--root", str(repo)], capsys)
    assert completed[1].count('"flag": "ledger_backfill_mode"') == 4, completed  # created, and the three steps
    git(repo, "config", key, value)
    assert run(["audit-log", "--root", str(repo)], capsys) == completed
    set_state(repo, BACKFILL, "read_only", frm="off")
    code, report = gate(repo, capsys, now="2026-11-07T00:00:00Z")
    assert code == 1, report
    # Dual write has been in shadow since the root commit created it: a promotion with three runs passes.
    git(repo, "checkout", "-q", "--", ".")
    promote_dual(repo)
    code, report = gate(repo, capsys)
    assert code == 0, report


def clean_rev(repo: Path) -> str:
    return git(repo, "rev-list", "--max-parents=0", "HEAD").strip()


def test_a_graft_file_changes_no_verdict(repo: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """git still honours .git/info/grafts (replace refs were already ignored): a graft hid a disable and a
    re-entry into shadow, so the soak counted from the first entry; and the walk kept meanwhile outlived it."""
    set_state(repo, "allocation_dual_write", "off", frm="shadow", reason="OPERATOR_DECISION")
    commit_all(repo, "dual write off", "2026-11-19T00:00:00Z")
    set_state(repo, "allocation_dual_write", "shadow", frm="off", evidence=[])
    main = commit_all(repo, "dual write shadow again", "2026-11-20T00:00:00Z")
    first = git(repo, "rev-list", "--max-parents=0", "HEAD").strip()
    git(repo, "checkout", "-q", "-b", "pr")
    promote_dual(repo, three_runs(repo, start=201))
    head = commit_all(repo, "promote", "2026-11-22T00:00:00Z")
    graft = Path(git(repo, "rev-parse", "--git-path", "info/grafts").strip())
    graft = graft if graft.is_absolute() else repo / graft
    graft.parent.mkdir(parents=True, exist_ok=True)
    graft.write_text(f"{main} {first}\n")
    assert run(["publish", "--root", str(repo), "--rev", main, "--out", str(tmp_path / "out")], capsys)[0] in (0, 1)  # keeps a walk
    code, report = gate(repo, capsys, "--head", head, base=main, now="2026-11-23T00:00:00Z")
    assert code == 1 and any("entered shadow at 2026-11-20" in m for m in errors(report, "soak")), report
    graft.unlink()
    assert gate(repo, capsys, "--head", head, base=main, now="2026-11-23T00:00:00Z") == (code, report)


def test_a_commit_date_git_cannot_read_is_a_history_error(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A committer date git fsck calls bad (``-100``): git log prints no time for it; it crashed as an internal error."""
    import subprocess

    main = git(repo, "rev-parse", "HEAD").strip()
    set_state(repo, "outbox_enabled", "on", frm="off", evidence=[])
    git(repo, "add", "-A")
    tree = git(repo, "write-tree").strip()
    body = f"tree {tree}\nparent {main}\nauthor a <a@x> 1700000000 +0000\ncommitter a <a@x> -100 +0000\n\npromote outbox\n"
    made = subprocess.run(["git", "hash-object", "-t", "commit", "-w", "--stdin"], cwd=repo, input=body, capture_output=True, text=True)
    bad = made.stdout.strip()
    git(repo, "reset", "-q", "--hard", bad)
    for args in (["check", "--base", main, "--head", bad], ["audit-log"]):
        code, out, err = run([*args, "--root", str(repo)], capsys)
        assert code == 2 and "committer date git cannot read" in out + err and "internal error" not in out + err, (args, out, err)


@pytest.mark.parametrize("then", ["deleted", "rewritten green"])
def test_publish_since_does_not_pass_over_a_red_run_removed_in_the_window(
    repo: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path, then: str
) -> None:
    # The refused promotion adds the reconciler's red run; the next commit deletes it (or rewrites it green
    # and cites it): from the promotion's parent to --since, taken as one change, the run is in neither end
    # (attack round 12).
    out = tmp_path / "public"
    ids = three_runs(repo)
    commit_all(repo, "runs", "2026-11-19T00:00:00Z")
    assert run(["publish", "--root", str(repo), "--out", str(out)], capsys)[0] == 0
    red = write_run(repo, DUAL, "rr-0104", 104, status="red", inputs=_RED, finished="2026-11-20T05:12:00Z")
    promote_dual(repo, ids)
    commit_all(repo, "promote, beside a red run", "2026-11-20T06:00:00Z")
    if then == "deleted":
        red.unlink()
    else:
        write_run(repo, DUAL, "rr-0104", 104, finished="2026-11-20T05:12:00Z")
        promote_dual(repo, ["rr-0102", "rr-0103", "rr-0104"])
    since = commit_all(repo, "tidy the runs", "2026-11-20T07:00:00Z")
    assert run(["publish", "--root", str(repo), "--out", str(out)], capsys)[0] == 1
    code, text, err = run(["publish", "--root", str(repo), "--out", str(out), "--since", since], capsys)
    assert code == 1 and "does not undo the refused step" in text and "flags/allocation_dual_write.yaml" in text, text + err
    assert _published_state(out, "allocation_dual_write") == "shadow"


# --- round 13 -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("where", ["user", "clone", "driver", "repository"])
def test_a_merge_attribute_does_not_silence_the_hidden_steps(
    repo: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """``flags/*.yaml merge=binary`` in the user's attributes file, the clone's info/attributes or the branch's own
    .gitattributes, or a "keep ours" merge driver, made the replayed steps fail to apply (or apply wrongly): the
    hidden-steps comparison was skipped, silently, for a branch that completes the backfill's plan (rounds 13, 14).
    The replay runs in a repository of its own over the same objects, with no attributes and no configuration."""
    git(repo, "checkout", "-q", "-b", "pr")
    _backfill(repo, "read_only", "off", "2026-11-02T00:00:00Z", "backfill read_only")
    _backfill(repo, "active", "read_only", "2026-11-03T00:00:00Z", "backfill active")
    head = _backfill(repo, "off", "active", "2026-11-04T00:00:00Z", "backfill off: plan complete")
    if where == "repository":
        (repo / ".gitattributes").write_text("flags/*.yaml merge=binary\n")
        head = commit_all(repo, "attributes", "2026-11-04T01:00:00Z")
    git(repo, "checkout", "-q", "main")
    edit(flag_path(repo, BACKFILL), "\nname: ", "\n# main's comment, far from the state line\nname: ")
    base = commit_all(repo, "main: a comment", "2026-11-05T00:00:00Z")
    info = Path(git(repo, "rev-parse", "--git-path", "info/attributes").strip())
    info = info if info.is_absolute() else repo / info
    if where == "user":
        home = tmp_path / "xdg"
        (home / "git").mkdir(parents=True)
        (home / "git" / "attributes").write_text("flags/*.yaml merge=binary\n")
        monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    elif where in ("clone", "driver"):
        info.parent.mkdir(parents=True, exist_ok=True)
        info.write_text("flags/*.yaml merge=binary\n" if where == "clone" else "flags/*.yaml merge=keep\n")
        if where == "driver":
            git(repo, "config", "merge.keep.driver", "true")
    code, report = gate(repo, capsys, "--head", head, base=base, now="2026-11-06T00:00:00Z")
    assert code == 1 and any("commits of this change take it" in m for m in errors(report, "transition")), report


def test_git_traces_do_not_reach_what_is_read(repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """GIT_TRACE_SETUP=/dev/stdout wrote git's trace into the output flaggate parses: an internal error (round 13 notes)."""
    clean = run(["audit-log", "--root", str(repo)], capsys)
    for name in ("GIT_TRACE", "GIT_TRACE_SETUP", "GIT_TRACE_PERFORMANCE"):
        monkeypatch.setenv(name, "/dev/stdout")
    assert run(["audit-log", "--root", str(repo)], capsys) == clean
