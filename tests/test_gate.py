"""``flaggate check --base REF``: the transition gate on real git repositories."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run, run_json, set_top
from tests.gitrepo import DUAL, commit_all, flag_path, git, new_repo, set_state, three_runs, write_run

NOW = "2026-11-20T12:00:00Z"


def gate(repo: Path, capsys: pytest.CaptureFixture[str], base: str = "HEAD", now: str = NOW) -> tuple[int, dict[str, Any]]:
    return run_json(["check", "--root", str(repo), "--base", base, "--now", now], capsys)


def rules(report: dict[str, Any]) -> set[str]:
    return {e["rule"] for e in report["errors"]}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return new_repo(tmp_path)


def promote_dual(repo: Path, evidence: list[str]) -> None:
    set_state(repo, "allocation_dual_write", "enforce", frm="shadow", justification="3 green cycles", evidence=evidence)


# --- every (from, to) pair of every flag, table-driven --------------------------------------
# The legal moves, written out by hand from the spec (not computed by the code under test).
LEGAL: dict[str, dict[tuple[str, str], str]] = {
    "allocation_dual_write": {
        ("off", "shadow"): "promote",
        ("shadow", "enforce"): "promote",
        ("enforce", "shadow"): "demote",
        ("shadow", "off"): "disable",
    },
    "ledger_backfill_mode": {
        ("off", "read_only"): "promote",
        ("read_only", "active"): "promote",
        ("active", "off#done"): "promote",
        ("active", "read_only"): "demote",
        ("read_only", "off"): "disable",
    },
    "allocation_read_switch": {
        ("off", "canary5"): "promote",
        ("canary5", "canary25"): "promote",
        ("canary25", "full"): "promote",
        ("full", "canary25"): "demote",
        ("canary25", "canary5"): "demote",
        ("canary5", "off"): "disable",
        ("canary25", "off"): "disable",  # kill_switch: true
        ("full", "off"): "disable",
    },
    "active_reconciliation": {
        ("off", "dry"): "promote",
        ("dry", "enforce"): "promote",
        ("enforce", "dry"): "demote",
        ("dry", "off"): "disable",
        ("enforce", "off"): "disable",  # kill_switch: true
    },
    "outbox_enabled": {("off", "on"): "promote", ("on", "off"): "disable"},
    "event_stream_enabled": {
        ("off", "shadow"): "promote",
        ("shadow", "full"): "promote",
        ("full", "shadow"): "demote",
        ("shadow", "off"): "disable",
        ("full", "off"): "disable",  # kill_switch: true
    },
}
POSITIONS = {
    "allocation_dual_write": ["off", "shadow", "enforce"],
    "ledger_backfill_mode": ["off", "read_only", "active", "off#done"],
    "allocation_read_switch": ["off", "canary5", "canary25", "full"],
    "active_reconciliation": ["off", "dry", "enforce"],
    "outbox_enabled": ["off", "on"],
    "event_stream_enabled": ["off", "shadow", "full"],
}
PREVIOUS = {  # the state each position is reached from, for a consistent transition block
    "off#done": "active",
}


def _put(repo: Path, name: str, position: str, frm: str | None, frm_pct: int | None = None) -> None:
    state, pct = position, None
    if position.startswith("canary"):
        state, pct = "canary", int(position[len("canary") :])
    if position == "off#done":
        state = "off"
    set_state(repo, name, state, percentage=pct, frm=frm, reason="OPERATOR_DECISION", evidence=[], from_pct=frm_pct)


def _state_of(position: str) -> tuple[str, int | None]:
    if position.startswith("canary"):
        return "canary", int(position[len("canary") :])
    return ("off" if position == "off#done" else position), None


@pytest.mark.parametrize("name", sorted(LEGAL))
def test_every_pair_of_every_flag(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = new_repo(tmp_path)
    targets = POSITIONS[name] + ["paused"]
    checked = 0
    for source in POSITIONS[name]:
        frm = PREVIOUS.get(source, "off")
        _put(repo, name, source, frm)
        base = commit_all(repo, f"{name} at {source}", "2026-11-01T00:00:00Z")
        for target in targets:
            if target == source or (source, target) in (("off", "off#done"), ("off#done", "off")):
                continue
            if target == "off" and source == "active":
                continue  # active -> off completes the plan: covered as "off#done"
            if target == "off#done" and source != "active":
                continue  # the same position as "off": only the move from active reaches the plan's end
            src_state, src_pct = _state_of(source)
            _put(repo, name, target, src_state, src_pct)
            if target == "paused":  # a state that does not exist
                set_top(flag_path(repo, name), "state", "paused")
            code, report = gate(repo, capsys, base=base)
            transition_errors = [e for e in report["errors"] if e["rule"] == "transition"]
            expected = LEGAL[name].get((source, target))
            if expected is None:
                if target != "paused":
                    assert transition_errors, (source, target, report)
                    message = transition_errors[0]["message"]
                    assert "legal next steps" in message and src_state in message
                else:
                    assert code == 1
            else:
                assert transition_errors == [], (source, target, report["errors"])
                moves = [t for t in report["transitions"] if t["flag"] == name]
                assert [m["kind"] for m in moves] == [expected], (source, target)
            checked += 1
            git(repo, "checkout", "-q", "--", ".")
    assert checked >= 3


# --- legal promotions with evidence ----------------------------------------------------------
def test_good_promotion_passes(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    promote_dual(repo, three_runs(repo))
    code, report = gate(repo, capsys)
    assert (code, report["errors"]) == (0, [])
    assert report["transitions"] == [
        {
            "flag": "allocation_dual_write",
            "from": "shadow",
            "to": "enforce",
            "from_percentage": None,
            "to_percentage": None,
            "kind": "promote",
        }
    ]


def test_promotion_out_of_off_needs_no_runs(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    set_state(repo, "outbox_enabled", "on", frm="off", evidence=[])
    code, report = gate(repo, capsys)
    assert (code, report["errors"]) == (0, [])


@pytest.mark.parametrize(
    ("case", "expect"),
    [
        ("too-few", "needs 3 consecutive green"),
        ("gap", "not consecutive"),
        ("before-entry", "before the flag entered shadow"),
        ("too-old", "more than 7 days before now"),
        ("path-id", "not a plain file name"),
        ("missing-file", "has no file"),
    ],
)
def test_bad_evidence(case: str, expect: str, repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Cases that change more than one run file; one bad run file is a file in tests/examples/evidence/."""
    ids = three_runs(repo)
    last = ids[-1]
    if case == "too-few":
        ids = ids[:2]
    elif case == "gap":
        write_run(repo, "allocation_dual_write", last, 105, finished="2026-11-20T01:12:00Z")
    elif case == "before-entry":
        write_run(repo, "allocation_dual_write", ids[0], 101, finished="2026-10-30T01:12:00Z")
    elif case == "too-old":
        for i, run_id in enumerate(ids):
            write_run(repo, "allocation_dual_write", run_id, 101 + i, finished=f"2026-11-0{8 + i}T01:12:00Z")
    elif case == "path-id":
        ids = [*ids[:2], "../rr-0103"]
    elif case == "missing-file":
        ids = [*ids[:2], "rr-9999"]
    promote_dual(repo, ids)
    code, report = gate(repo, capsys)
    assert code == 1
    assert "evidence" in rules(report)
    messages = " | ".join(e["message"] for e in report["errors"])
    assert expect in messages
    for error in report["errors"]:
        assert error["line"] >= 1


def _inputs() -> dict[str, Any]:
    from tests.gitrepo import GOOD_INPUTS

    return dict(GOOD_INPUTS)


def _raw(run_id: str, seq: int) -> str:
    return json.dumps(
        {
            "run_id": run_id,
            "flag": "allocation_dual_write",
            "seq": seq,
            "flag_state": "shadow",
            "status": "green",
            "started_at": "2026-11-20T01:00:00Z",
            "finished_at": "2026-11-20T01:12:00Z",
            "inputs": _inputs(),
        },
        indent=2,
    )


def test_evidence_problem_points_at_the_run_file_line(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ids = three_runs(repo)
    write_run(repo, "allocation_dual_write", ids[2], 103, status="red")
    promote_dual(repo, ids)
    _, report = gate(repo, capsys)
    [error] = [e for e in report["errors"] if "status" in e["message"]]
    assert error["file"] == "evidence/allocation_dual_write/rr-0103.json"
    text = (repo / error["file"]).read_text().splitlines()
    assert '"status"' in text[error["line"] - 1]


@pytest.mark.parametrize(("ledger", "ok"), [("1000500.00", True), ("1000500.01", False), ("999500.00", True), ("999499.99", False)])
def test_drift_boundary_500_ppm_is_exact(ledger: str, ok: bool, repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ids = three_runs(repo)
    write_run(repo, "allocation_dual_write", ids[2], 103, inputs={**_inputs(), "ledger_total": ledger, "legacy_total": "1000000.00"})
    promote_dual(repo, ids)
    code, report = gate(repo, capsys)
    assert (code == 0) is ok, report["errors"]


def test_claimed_metric_rounded_to_its_places_agrees(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ids = three_runs(repo)
    write_run(
        repo,
        "allocation_dual_write",
        ids[2],
        103,
        inputs={**_inputs(), "ledger_total": "3000002.00", "legacy_total": "3000000.00"},
        metrics={"drift_ppm": 0.667, "write_error_rate": 0},
    )
    promote_dual(repo, ids)
    code, report = gate(repo, capsys)
    assert (code, report["errors"]) == (0, [])


def test_runs_cited_by_an_earlier_promotion_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = new_repo(tmp_path)
    # read switch: off -> canary 5 -> canary 25, the second promotion citing runs rr-1..3
    set_state(repo, "allocation_read_switch", "canary", percentage=5, frm="off", evidence=[])
    commit_all(repo, "canary 5", "2026-11-02T00:00:00Z")
    for i in range(3):
        write_run(
            repo,
            "allocation_read_switch",
            f"rs-{i + 1}",
            i + 1,
            state="canary",
            finished=f"2026-11-0{6 + i}T01:12:00Z",
            inputs=_inputs(),
            flag_percentage=5,  # runs of a percentage state name it
        )
    set_state(repo, "allocation_read_switch", "canary", percentage=25, frm="canary", from_pct=5, evidence=["rs-1", "rs-2", "rs-3"])
    code, report = gate(repo, capsys, now="2026-11-08T12:00:00Z")
    assert (code, report["errors"]) == (0, []), report
    commit_all(repo, "canary 25", "2026-11-08T12:00:00Z")
    set_state(repo, "allocation_read_switch", "full", frm="canary", from_pct=25, evidence=["rs-1", "rs-2", "rs-3"])
    code, report = gate(repo, capsys, now="2026-11-12T12:00:00Z")
    messages = " | ".join(e["message"] for e in report["errors"])
    assert code == 1 and "already cited by the promotion in commit" in messages


# --- soak ----------------------------------------------------------------------------------
def test_soak_not_yet_done(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    promote_dual(repo, three_runs(repo))
    code, report = gate(repo, capsys, now="2026-11-06T00:00:00Z")
    soak = [e for e in report["errors"] if e["rule"] == "soak"]
    assert code == 1 and soak
    assert "2 days remain" in soak[0]["message"] and "2026-11-08T00:00:00Z" in soak[0]["message"]


def test_soak_measured_from_the_commit_that_entered_the_step(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = new_repo(tmp_path)
    set_state(repo, "allocation_dual_write", "off", frm="shadow", reason="OPERATOR_DECISION")
    commit_all(repo, "disable", "2026-11-10T00:00:00Z")
    set_state(repo, "allocation_dual_write", "shadow", frm="off", evidence=[])
    commit_all(repo, "shadow again", "2026-11-15T00:00:00Z")
    promote_dual(repo, three_runs(repo))
    code, report = gate(repo, capsys)  # now 2026-11-20: only 5 days since re-entering shadow
    assert code == 1 and "soak" in rules(report)


# --- demotes ---------------------------------------------------------------------------------
def test_demote_needs_reason_code(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    set_state(repo, "allocation_dual_write", "off", frm="shadow")
    code, report = gate(repo, capsys)
    assert code == 1 and rules(report) == {"reason_code"}
    set_state(repo, "allocation_dual_write", "off", frm="shadow", reason="DRIFT_BREACH")
    code, report = gate(repo, capsys)
    assert (code, report["errors"]) == (0, [])
    set_state(repo, "allocation_dual_write", "off", frm="shadow", reason="BECAUSE")
    code, report = gate(repo, capsys)
    assert code == 1


def test_demote_that_strands_a_dependent_is_an_error_with_and_without_base(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = new_repo(tmp_path)
    set_state(repo, "ledger_backfill_mode", "read_only", frm="off", evidence=[])
    commit_all(repo, "backfill read only", "2026-11-02T00:00:00Z")
    set_state(repo, "allocation_dual_write", "off", frm="shadow", reason="DRIFT_BREACH")
    code, report = gate(repo, capsys)
    assert code == 1 and rules(report) == {"dependency"} and report["warnings"] == []
    [error] = report["errors"]
    assert error["file"] == DUAL and "move ledger_backfill_mode back in the same change" in error["message"]
    code, plain = run_json(["check", "--root", str(repo)], capsys)
    assert code == 1 and {e["rule"] for e in plain["errors"]} == {"dependency"}
    # Moving the dependent in the same change (what the cascade writes) passes.
    set_state(repo, "ledger_backfill_mode", "off", frm="read_only", reason="DRIFT_BREACH")
    code, report = gate(repo, capsys)
    assert (code, report["errors"], report["warnings"]) == (0, [], [])


# --- dependencies, both directions -----------------------------------------------------------
def test_backfill_out_of_off_needs_dual_write_in_shadow(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = new_repo(tmp_path)
    set_state(repo, "allocation_dual_write", "off", frm="shadow", reason="OPERATOR_DECISION")
    commit_all(repo, "dual write off", "2026-11-02T00:00:00Z")
    set_state(repo, "ledger_backfill_mode", "read_only", frm="off", evidence=[])
    code, report = gate(repo, capsys)
    assert code == 1 and rules(report) == {"dependency"}
    assert report["errors"][0]["file"] == "flags/ledger_backfill_mode.yaml"


def test_dual_write_enforce_needs_backfill_off(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = new_repo(tmp_path)
    set_state(repo, "ledger_backfill_mode", "read_only", frm="off", evidence=[])
    commit_all(repo, "backfill read only", "2026-10-02T00:00:00Z")
    promote_dual(repo, three_runs(repo))
    code, report = gate(repo, capsys)
    assert code == 1 and rules(report) == {"dependency"}
    [error] = report["errors"]
    assert error["file"] == DUAL and "breaks a requirement" in error["message"]


def test_one_promotion_per_change(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    set_state(repo, "outbox_enabled", "on", frm="off", evidence=[])
    set_state(repo, "event_stream_enabled", "shadow", frm="off", evidence=[])
    code, report = gate(repo, capsys)
    assert code == 1 and rules(report) == {"transition"}
    assert len(report["errors"]) == 2 and "policy allows 1" in report["errors"][0]["message"]


# --- the transition block ----------------------------------------------------------------------
def test_stale_transition_block(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    set_top(flag_path(repo, "allocation_dual_write"), "state", "enforce")
    code, report = gate(repo, capsys)
    assert code == 1
    assert any("left over from an earlier change" in e["message"] for e in report["errors"])


# --- creation, deletion, rename ------------------------------------------------------------------
def test_new_flag_must_start_in_first_step(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = flag_path(repo, "outbox_enabled").read_text().replace("outbox_enabled", "outbox_v2")
    (repo / "flags/outbox_v2.yaml").write_text(source)
    code, report = gate(repo, capsys)
    assert (code, report["errors"]) == (0, [])
    assert report["transitions"][0]["kind"] == "create"
    set_state(repo, "outbox_v2", "on", frm=None)
    code, report = gate(repo, capsys)
    assert code == 1 and "must start in its plan's first step" in report["errors"][0]["message"]


def test_delete_rules(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    flag_path(repo, "outbox_enabled").unlink()
    code, report = gate(repo, capsys)
    assert code == 0 and report["transitions"][0]["kind"] == "delete"
    git(repo, "checkout", "-q", "--", ".")
    flag_path(repo, "allocation_dual_write").unlink()
    code, report = gate(repo, capsys)
    messages = " | ".join(e["message"] for e in report["errors"])
    assert code == 1 and "demote it to off first" in messages and "ledger_backfill_mode requires it" in messages


def test_rename_with_state_change_is_still_judged(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    git(repo, "mv", "flags/allocation_dual_write.yaml", "flags/dual_write_renamed.yaml")
    set_top(repo / "flags/dual_write_renamed.yaml", "state", "enforce")
    code, report = gate(repo, capsys)
    assert "transition" in rules(report) or "evidence" in rules(report)
    assert report["transitions"][0]["flag"] == "allocation_dual_write"
    assert report["transitions"][0]["kind"] == "promote"


# --- history problems: exit 2 -------------------------------------------------------------------
def test_unknown_base_is_exit_2(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["check", "--root", str(repo), "--base", "no-such-ref"], capsys)
    assert code == 2 and "history" in err and "Traceback" not in err


def test_shallow_clone_is_exit_2(repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    commit_all(repo, "second", "2026-11-02T00:00:00Z")
    shallow = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{repo}", str(shallow))
    code, out, err = run(["check", "--root", str(shallow), "--base", "HEAD"], capsys)
    assert code == 2 and "fetch the full history" in err


def test_unreadable_base_is_exit_2_not_a_new_flag(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    flag_path(repo, "outbox_enabled").write_text("name: outbox_enabled\nstate: off\nstate: on\n")
    commit_all(repo, "broken on main", "2026-11-02T00:00:00Z")
    set_state_text = flag_path(repo, "outbox_enabled")
    git(repo, "show", "HEAD~1:flags/outbox_enabled.yaml")
    set_state_text.write_text(git(repo, "show", "HEAD~1:flags/outbox_enabled.yaml"))
    set_state(repo, "outbox_enabled", "on", frm="off", evidence=[])
    code, out, err = run(["check", "--root", str(repo), "--base", "HEAD"], capsys)
    assert code == 2 and "cannot be read" in err


def test_history_error_in_json_format(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["check", "--root", str(repo), "--base", "nope", "--format", "json"], capsys)
    assert code == 2
    report = json.loads(out)
    assert report["ok"] is False and report["errors"][0]["rule"] == "history"


# --- the helpers ---------------------------------------------------------------------------------
def test_promote_then_check_passes_with_evidence(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ids = three_runs(repo)
    before = flag_path(repo, "allocation_dual_write").read_text()
    code, out, _ = run(
        [
            "promote",
            "allocation_dual_write",
            "--root",
            str(repo),
            "--now",
            NOW,
            "--justification",
            "3 green cycles: drift 0",
            "--evidence",
            *ids,
        ],
        capsys,
    )
    assert code == 0, out
    after = flag_path(repo, "allocation_dual_write").read_text()
    assert "state: enforce\n" in after and '# Spec: "shadow (N days)"' in after
    changed = [line for line in after.splitlines() if line not in before.splitlines()]
    assert changed == [
        "state: enforce",
        "  from: shadow",
        "  to: enforce",
        '  justification: "3 green cycles: drift 0"',
        "  evidence: [rr-0101, rr-0102, rr-0103]",
    ]
    code, report = gate(repo, capsys)
    assert (code, report["errors"]) == (0, [])


def test_promote_without_evidence_writes_nothing(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = flag_path(repo, "allocation_dual_write").read_bytes()
    code, out, err = run(["promote", "allocation_dual_write", "--root", str(repo), "--now", NOW, "--justification", "please"], capsys)
    assert code == 1 and "evidence" in out and "nothing written" in err
    assert flag_path(repo, "allocation_dual_write").read_bytes() == before


def test_demote_helper_and_dry_run(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = flag_path(repo, "allocation_dual_write").read_bytes()
    code, out, _ = run(
        [
            "demote",
            "allocation_dual_write",
            "--root",
            str(repo),
            "--reason",
            "DRIFT_BREACH",
            "--justification",
            "drift 812 ppm at 02:10",
            "--dry-run",
        ],
        capsys,
    )
    assert code == 0 and "+state: off" in out
    assert flag_path(repo, "allocation_dual_write").read_bytes() == before
    code, out, _ = run(
        ["demote", "allocation_dual_write", "--root", str(repo), "--reason", "DRIFT_BREACH", "--justification", "drift 812 ppm at 02:10"],
        capsys,
    )
    assert code == 0
    code, report = gate(repo, capsys)
    assert (code, report["errors"]) == (0, [])
    assert report["transitions"][0]["kind"] == "disable"


def test_demote_with_unknown_reason_writes_nothing(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = flag_path(repo, "allocation_dual_write").read_bytes()
    code, out, err = run(["demote", "allocation_dual_write", "--root", str(repo), "--reason", "BECAUSE", "--justification", "x"], capsys)
    assert code == 2 and flag_path(repo, "allocation_dual_write").read_bytes() == before
    assert "not a reason code of policy.yaml" in err and "DRIFT_BREACH" in err


def test_promote_canary_writes_percentage(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["promote", "allocation_read_switch", "--root", str(repo), "--now", NOW, "--justification", "start canary"], capsys)
    assert code == 0, out
    text = flag_path(repo, "allocation_read_switch").read_text()
    assert "state: canary\npercentage: 5\n" in text and "to_percentage: 5" in text


def test_plan_says_what_is_missing(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["plan", "allocation_dual_write", "--root", str(repo), "--now", "2026-11-05T00:00:00Z"], capsys)
    assert code == 1
    assert "next: enforce (promote)" in out and "3 days remain" in out and "needs 3 consecutive green" in out
    three_runs(repo)
    code, out, _ = run(["plan", "allocation_dual_write", "--root", str(repo), "--now", NOW], capsys)
    assert code == 0 and "--evidence rr-0101 rr-0102 rr-0103" in out


@pytest.mark.parametrize(("synthetic", "ok"), [(1000, True), (999, False)])
def test_backfill_finishes_only_when_complete(synthetic: int, ok: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = new_repo(tmp_path)
    set_state(repo, "ledger_backfill_mode", "read_only", frm="off", evidence=[])
    commit_all(repo, "read only", "2026-11-02T00:00:00Z")
    for i in range(3):  # starting the backfill needs green runs, not completeness
        write_run(
            repo,
            "ledger_backfill_mode",
            f"bf-{i}",
            i,
            state="read_only",
            finished=f"2026-11-0{4 + i}T01:12:00Z",
            inputs={"synthetic_lines": 10, "legacy_allocations_count": 1000, "allocations_backfilled": 10},
        )
    set_state(repo, "ledger_backfill_mode", "active", frm="read_only", evidence=["bf-0", "bf-1", "bf-2"])
    code, report = gate(repo, capsys, now="2026-11-06T12:00:00Z")
    assert (code, report["errors"]) == (0, [])
    commit_all(repo, "active", "2026-11-06T12:00:00Z")
    for i in range(3):
        write_run(
            repo,
            "ledger_backfill_mode",
            f"bf-{10 + i}",
            10 + i,
            state="active",
            finished=f"2026-11-{10 + i}T01:12:00Z",
            inputs={"synthetic_lines": synthetic, "legacy_allocations_count": 1000, "allocations_backfilled": 1000},
        )
    set_state(repo, "ledger_backfill_mode", "off", frm="active", evidence=["bf-10", "bf-11", "bf-12"])
    code, report = gate(repo, capsys, now="2026-11-12T12:00:00Z")
    assert (code == 0) is ok, report["errors"]
    assert report["transitions"][0]["kind"] == "promote"
    if not ok:
        assert "synthetic_completeness = 0.999 breaches the guard (at least 1)" in " ".join(e["message"] for e in report["errors"])


def test_demote_from_the_first_step_is_refused_with_exit_1(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = flag_path(repo, "outbox_enabled").read_bytes()
    code, out, err = run(["demote", "outbox_enabled", "--root", str(repo), "--reason", "OPERATOR_DECISION", "--justification", "x"], capsys)
    assert code == 1 and "transition: outbox_enabled is off: no demote is possible" in out and "nothing written" in err
    assert flag_path(repo, "outbox_enabled").read_bytes() == before
