"""What ``check --base`` asks the history, and that asking less never changes a verdict.

The gate reads a moving flag's standing only where its rules need it
(``gate._reads_history``): the step where the base file's position is on the
plan twice, when it entered the step for a promotion that soaks or needs
evidence, and the runs already cited for the latter.  Every case below is a
real git history built to make a narrowed read miss something (a second file
naming the flag, a rename, an escaped name, a move long ago and back, a
completed plan, runs cited earlier); each is judged both ways, with the
history narrowed and with every flag's whole walk, from git alone and with the
kept walks, and the verdicts must be the same.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run, set_top, set_transition
from tests.gitrepo import DUAL, commit_all, flag_path, git, new_repo, set_state, three_runs
from validator import check, gate, histcache
from validator.repo import WorkTree
from validator.report import Result

NOW = "2026-11-20T12:00:00Z"
DUAL_NAME = "allocation_dual_write"


def _key(result: Result) -> tuple[list[tuple[Any, ...]], list[dict[str, Any]]]:
    findings = sorted((f.file, f.line, f.column, f.rule, f.message, f.severity) for f in result.findings)
    return findings, result.transitions


def _judged(repo: Path, monkeypatch: pytest.MonkeyPatch, cached: bool, now: str = NOW) -> Result:
    """The verdict on the working tree against HEAD, narrowed; asserted equal to the one from every flag's whole walk."""
    if cached:
        monkeypatch.delenv(histcache.DISABLE_ENV, raising=False)
    else:
        monkeypatch.setenv(histcache.DISABLE_ENV, "1")
    when = datetime.fromisoformat(now.replace("Z", "+00:00"))
    narrowed = check.run(repo, WorkTree(repo), base="HEAD", now=when)
    again = check.run(repo, WorkTree(repo), base="HEAD", now=when)  # with a kept walk (if kept), the same
    whole = check.judge_change(repo, gate.load_base(repo, "HEAD"), WorkTree(repo), when)
    assert _key(narrowed) == _key(whole) == _key(again)
    return narrowed


def _exit(repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, cached: bool, now: str = NOW) -> tuple[int, str]:
    if cached:
        monkeypatch.delenv(histcache.DISABLE_ENV, raising=False)
    else:
        monkeypatch.setenv(histcache.DISABLE_ENV, "1")
    code, out, err = run(["check", "--root", str(repo), "--base", "HEAD", "--now", now], capsys)
    return code, out + err


def _git_commands(repo: Path, *, now: str = NOW) -> list[str]:
    """The git commands one ``flaggate check --base HEAD`` process runs, from git's own trace (nothing kept)."""
    trace = repo.parent / "git-trace.txt"
    trace.unlink(missing_ok=True)
    env = {**os.environ, "GIT_TRACE": str(trace), histcache.DISABLE_ENV: "1"}
    done = subprocess.run(
        [sys.executable, "-m", "validator", "check", "--root", str(repo), "--base", "HEAD", "--now", now],
        env=env,
        capture_output=True,
        text=True,
    )
    assert "Traceback" not in done.stderr
    return [line.split("built-in: git ", 1)[1] for line in trace.read_text().splitlines() if "built-in: git " in line]


def _lists_history(commands: list[str]) -> bool:
    return any(c.startswith(("log ", "rev-list --first-parent")) for c in commands)


BOTH = pytest.mark.parametrize("cached", [False, True], ids=["from-git", "kept"])


# --- what is asked ----------------------------------------------------------------------------
def test_a_promotion_out_of_off_without_soak_lists_no_history(tmp_path: Path) -> None:
    repo = new_repo(tmp_path)
    set_state(repo, "outbox_enabled", "on", frm="off", evidence=[])
    assert not _lists_history(_git_commands(repo))


def test_a_promotion_with_evidence_lists_the_history(tmp_path: Path) -> None:
    repo = new_repo(tmp_path)
    set_state(repo, DUAL_NAME, "enforce", frm="shadow", evidence=three_runs(repo))
    assert _lists_history(_git_commands(repo))


def test_a_position_twice_on_the_plan_lists_the_history(tmp_path: Path) -> None:
    """ledger_backfill_mode at off: its first or its last (completed) off only the history tells."""
    repo = new_repo(tmp_path)
    set_state(repo, "ledger_backfill_mode", "read_only", frm="off", evidence=[])
    assert _lists_history(_git_commands(repo))


# --- attacks: each history built so that a narrowed read would miss something -------------------
@BOTH
def test_a_second_file_that_came_and_went(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], cached: bool
) -> None:
    """A second file naming dual write at enforce, added and removed: the flag re-entered shadow then, so the soak restarts."""
    repo = new_repo(tmp_path)
    second = repo / "flags/zz_second.yaml"
    second.write_text(flag_path(repo, DUAL_NAME).read_text())
    set_top(second, "state", "enforce")
    commit_all(repo, "a second file names dual write", "2026-11-15T00:00:00Z")
    second.unlink()
    commit_all(repo, "and goes", "2026-11-16T00:00:00Z")
    set_state(repo, DUAL_NAME, "enforce", frm="shadow", evidence=three_runs(repo))
    result = _judged(repo, monkeypatch, cached)
    assert any(f.rule == "soak" and "2026-11-16T00:00:00Z" in f.message for f in result.findings)
    code, text = _exit(repo, capsys, monkeypatch, cached)
    assert code == 1 and "soak" in text


@BOTH
def test_a_second_file_for_a_promotion_out_of_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cached: bool) -> None:
    """Out of off with no soak, nothing of the history is read: a second file that came and went changes nothing either way."""
    repo = new_repo(tmp_path)
    second = repo / "flags/aa_second.yaml"
    second.write_text(flag_path(repo, "outbox_enabled").read_text())
    set_top(second, "state", "on")
    commit_all(repo, "a second file names outbox on", "2026-11-15T00:00:00Z")
    second.unlink()
    commit_all(repo, "and goes", "2026-11-16T00:00:00Z")
    set_state(repo, "outbox_enabled", "on", frm="off", evidence=[])
    result = _judged(repo, monkeypatch, cached)
    assert [f for f in result.findings if f.severity == "error"] == []


@BOTH
def test_a_rename_keeps_the_flag_and_its_soak(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cached: bool) -> None:
    repo = new_repo(tmp_path)
    set_state(repo, DUAL_NAME, "off", frm="shadow", reason="OPERATOR_DECISION")
    commit_all(repo, "disable", "2026-11-10T00:00:00Z")
    set_state(repo, DUAL_NAME, "shadow", frm="off", evidence=[])
    commit_all(repo, "shadow again", "2026-11-15T00:00:00Z")
    git(repo, "mv", DUAL, "flags/dual.yaml")
    commit_all(repo, "rename", "2026-11-19T00:00:00Z")
    set_top(repo / "flags/dual.yaml", "state", "enforce")
    ids = ", ".join(three_runs(repo))
    set_transition(repo / "flags/dual.yaml", f"transition:\n  from: shadow\n  to: enforce\n  justification: runs\n  evidence: [{ids}]\n")
    result = _judged(repo, monkeypatch, cached)
    assert any(f.rule == "soak" and "2026-11-15T00:00:00Z" in f.message for f in result.findings)


@BOTH
def test_an_escaped_name_in_a_second_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cached: bool) -> None:
    """The second file spells the name with a YAML escape (no bytes of the name in it): still found, the soak restarts."""
    repo = new_repo(tmp_path)
    second = repo / "flags/escaped.yaml"
    text = flag_path(repo, DUAL_NAME).read_text().replace(f"name: {DUAL_NAME}", 'name: "allocation\\x5fdual\\x5fwrite"')
    assert DUAL_NAME not in text.split("\n", 3)[1]
    second.write_text(text)
    set_top(second, "state", "enforce")
    commit_all(repo, "escaped second file", "2026-11-15T00:00:00Z")
    second.unlink()
    commit_all(repo, "and goes", "2026-11-17T00:00:00Z")
    set_state(repo, DUAL_NAME, "enforce", frm="shadow", evidence=three_runs(repo))
    result = _judged(repo, monkeypatch, cached)
    assert any(f.rule == "soak" and "2026-11-17T00:00:00Z" in f.message for f in result.findings)


@BOTH
def test_moved_long_ago_and_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cached: bool) -> None:
    """Out of off and back long ago, then many unrelated commits: the soak of the step it is in counts from the move back."""
    repo = new_repo(tmp_path, date="2026-10-01T00:00:00Z")
    set_state(repo, "event_stream_enabled", "shadow", frm="off", evidence=[])
    commit_all(repo, "shadow", "2026-10-02T00:00:00Z")
    set_state(repo, "event_stream_enabled", "off", frm="shadow", reason="OPERATOR_DECISION")
    commit_all(repo, "off", "2026-10-03T00:00:00Z")
    for day in range(4, 20):
        (repo / "NOTES.md").write_text(f"day {day}\n")
        commit_all(repo, f"unrelated {day}", f"2026-10-{day:02d}T00:00:00Z")
    set_state(repo, "event_stream_enabled", "shadow", frm="off", evidence=[])
    commit_all(repo, "shadow again", "2026-11-18T00:00:00Z")
    set_state(repo, "event_stream_enabled", "full", frm="shadow", evidence=[])
    result = _judged(repo, monkeypatch, cached)
    assert any(f.rule == "soak" and "2026-11-18T00:00:00Z" in f.message for f in result.findings)
    # and out of off, with no soak on off: the same verdict as the whole walk (none needed)
    git(repo, "checkout", "-q", "--", "flags")
    set_state(repo, "outbox_enabled", "on", frm="off", evidence=[])
    assert [f for f in _judged(repo, monkeypatch, cached).findings if f.severity == "error"] == []


def _complete_backfill(repo: Path) -> None:
    set_state(repo, "ledger_backfill_mode", "read_only", frm="off", evidence=[])
    commit_all(repo, "backfill read_only", "2026-11-02T00:00:00Z")
    set_state(repo, "ledger_backfill_mode", "active", frm="read_only", evidence=[])
    commit_all(repo, "backfill active", "2026-11-04T00:00:00Z")
    set_state(repo, "ledger_backfill_mode", "off", frm="active", evidence=[])
    commit_all(repo, "backfill done", "2026-11-06T00:00:00Z")


@BOTH
def test_a_completed_plan_is_not_restarted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cached: bool) -> None:
    repo = new_repo(tmp_path)
    _complete_backfill(repo)
    set_state(repo, "ledger_backfill_mode", "read_only", frm="off", evidence=[])
    result = _judged(repo, monkeypatch, cached)
    assert any(f.rule == "transition" and "complete" in f.message for f in result.findings)


@BOTH
def test_a_completed_plan_cannot_be_reopened_by_an_amend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cached: bool) -> None:
    repo = new_repo(tmp_path)
    _complete_backfill(repo)
    path = flag_path(repo, "ledger_backfill_mode")
    text = path.read_text()
    last_off = text.rindex("  - state: off")
    path.write_text(text[:last_off] + text[last_off:].replace("  - state: off", "  - state: off\n  - state: read_only", 1))
    result = _judged(repo, monkeypatch, cached)
    assert any(f.rule == "amend" and "completed its plan" in f.message for f in result.findings)


@BOTH
def test_runs_cited_by_an_earlier_promotion(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cached: bool) -> None:
    repo = new_repo(tmp_path)
    runs = three_runs(repo)
    set_state(repo, DUAL_NAME, "enforce", frm="shadow", evidence=runs)
    commit_all(repo, "enforce", "2026-11-09T00:00:00Z")
    set_state(repo, DUAL_NAME, "shadow", frm="enforce", reason="OPERATOR_DECISION")
    commit_all(repo, "back to shadow", "2026-11-10T00:00:00Z")
    set_state(repo, DUAL_NAME, "enforce", frm="shadow", evidence=runs)
    result = _judged(repo, monkeypatch, cached, now="2026-11-30T00:00:00Z")
    assert any("already cited by the promotion in commit" in f.message for f in result.findings)


@BOTH
def test_a_step_left_by_files_of_the_same_name_is_not_the_yardstick(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cached: bool) -> None:
    """Files of one name that came and went can leave the history's step where the flag's file is not.

    Here a second file put outbox_enabled on; two more went in one commit
    without an event, so the last event says "on" while the only file left
    says off.  The step is the base file's position's (it is on the plan
    once), so off -> on is judged as the promotion it is, narrowed or not.
    """
    repo = new_repo(tmp_path)
    original = flag_path(repo, "outbox_enabled").read_text()
    q = repo / "flags/q_second.yaml"
    q.write_text(original)
    set_top(q, "state", "on")
    commit_all(repo, "a second file names outbox on", "2026-11-03T00:00:00Z")
    (repo / "flags/a_third.yaml").write_text(original)
    commit_all(repo, "a third, at off", "2026-11-04T00:00:00Z")
    q.unlink()
    (repo / "flags/a_third.yaml").unlink()
    commit_all(repo, "both go", "2026-11-05T00:00:00Z")
    set_state(repo, "outbox_enabled", "on", frm="off", evidence=[])
    result = _judged(repo, monkeypatch, cached)
    assert [f for f in result.findings if f.severity == "error"] == []


@BOTH
@pytest.mark.parametrize(
    ("lost_object", "said"),
    [("HEAD~1:flags", "history: git log failed"), (f"HEAD~1:{DUAL}", "git has no object")],
    ids=["tree", "blob"],
)
def test_an_object_git_lost_is_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], cached: bool, lost_object: str, said: str
) -> None:
    """A tree of the history (git fails half-way through the listing) or the blob of the move into shadow is gone
    from the object store: exit 2 naming it, no stall, no traceback, never a move silently skipped as an empty file."""
    repo = new_repo(tmp_path)
    set_state(repo, DUAL_NAME, "off", frm="shadow", reason="OPERATOR_DECISION")
    commit_all(repo, "off", "2026-11-02T00:00:00Z")
    set_state(repo, DUAL_NAME, "shadow", frm="off", evidence=[])
    commit_all(repo, "shadow", "2026-11-03T00:00:00Z")
    lost = git(repo, "rev-parse", lost_object).strip()
    (repo / ".git" / "objects" / lost[:2] / lost[2:]).unlink()
    set_state(repo, DUAL_NAME, "enforce", frm="shadow", evidence=three_runs(repo))
    code, text = _exit(repo, capsys, monkeypatch, cached)
    assert code == 2 and said in text and lost in text and "Traceback" not in text


@BOTH
def test_a_backdated_commit_does_not_shorten_the_soak(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], cached: bool
) -> None:
    """The re-entry into shadow is dated back to November 1st, after a commit (no flag touched) dated the 18th.

    It counts as no earlier than its first parent: the 18th, so the soak of
    seven days is not over on the 20th.  The commit that sets the time
    touches no flag file, so a listing of the flags' commits alone would miss it.
    """
    repo = new_repo(tmp_path, date="2026-10-01T00:00:00Z")
    set_state(repo, DUAL_NAME, "off", frm="shadow", reason="OPERATOR_DECISION")
    commit_all(repo, "off", "2026-10-02T00:00:00Z")
    (repo / "NOTES.md").write_text("no flag here\n")
    commit_all(repo, "unrelated, dated the 18th", "2026-11-18T00:00:00Z")
    set_state(repo, DUAL_NAME, "shadow", frm="off", evidence=[])
    commit_all(repo, "shadow again, backdated", "2026-11-01T00:00:00Z")
    set_state(repo, DUAL_NAME, "enforce", frm="shadow", evidence=three_runs(repo))
    result = _judged(repo, monkeypatch, cached)
    assert any(f.rule == "soak" and "2026-11-18T00:00:00Z" in f.message for f in result.findings)
    assert _exit(repo, capsys, monkeypatch, cached)[0] == 1


@BOTH
def test_a_move_merged_from_a_branch_counts_from_the_merge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cached: bool) -> None:
    """Moves inside a merged branch are not the first-parent history's; the merge that brings one is."""
    repo = new_repo(tmp_path)
    git(repo, "checkout", "-q", "-b", "feature")
    set_state(repo, DUAL_NAME, "off", frm="shadow", reason="OPERATOR_DECISION")
    commit_all(repo, "off (branch)", "2026-11-03T00:00:00Z")
    set_state(repo, DUAL_NAME, "shadow", frm="off", evidence=[])
    commit_all(repo, "shadow again (branch)", "2026-11-04T00:00:00Z")
    git(repo, "checkout", "-q", "main")
    (repo / "NOTES.md").write_text("main moves on\n")
    commit_all(repo, "unrelated on main", "2026-11-05T00:00:00Z")
    git(repo, "merge", "-q", "--no-ff", "feature", "-m", "Merge feature", date="2026-11-16T00:00:00Z")
    set_state(repo, DUAL_NAME, "enforce", frm="shadow", evidence=three_runs(repo))
    result = _judged(repo, monkeypatch, cached)
    # the branch left dual write in shadow, as main had it: no move on the first-parent line, the soak counts from the root
    assert not any(f.rule == "soak" for f in result.findings)
    git(repo, "checkout", "-q", "--", "flags")
    git(repo, "checkout", "-q", "-b", "second")
    set_state(repo, DUAL_NAME, "off", frm="shadow", reason="OPERATOR_DECISION")
    commit_all(repo, "off (second branch)", "2026-11-17T00:00:00Z")
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "--no-ff", "second", "-m", "Merge second", date="2026-11-18T00:00:00Z")
    set_state(repo, DUAL_NAME, "shadow", frm="off", evidence=[])
    commit_all(repo, "shadow", "2026-11-19T00:00:00Z")
    set_state(repo, DUAL_NAME, "enforce", frm="shadow", evidence=three_runs(repo))
    result = _judged(repo, monkeypatch, cached)
    assert any(f.rule == "soak" and "2026-11-19T00:00:00Z" in f.message for f in result.findings)


@BOTH
def test_out_of_a_first_step_that_soaks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cached: bool) -> None:
    """A plan whose first step soaks (amended in earlier): out of off is then read from the history, and the soak holds."""
    repo = new_repo(tmp_path)
    path = flag_path(repo, "outbox_enabled")
    path.write_text(path.read_text().replace("  - state: off\n  - state: on\n", "  - state: off\n    soak_days: 3\n  - state: on\n", 1))
    commit_all(repo, "outbox soaks 3 days in off", "2026-11-02T00:00:00Z")
    set_state(repo, "outbox_enabled", "on", frm="off", evidence=[])
    commit_all(repo, "on", "2026-11-10T00:00:00Z")
    set_state(repo, "outbox_enabled", "off", frm="on", reason="OPERATOR_DECISION")
    commit_all(repo, "off again", "2026-11-19T00:00:00Z")
    set_state(repo, "outbox_enabled", "on", frm="off", evidence=[])
    result = _judged(repo, monkeypatch, cached)
    assert any(f.rule == "soak" and "2026-11-19T00:00:00Z" in f.message for f in result.findings)


@BOTH
def test_two_files_naming_the_moving_flag_at_the_base(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cached: bool) -> None:
    """The base itself has a second file of the same name (its own finding): the history is asked, the verdicts agree."""
    repo = new_repo(tmp_path)
    second = repo / "flags/outbox_copy.yaml"
    second.write_text(flag_path(repo, "outbox_enabled").read_text())
    set_top(second, "state", "on")
    commit_all(repo, "a second outbox file, at on", "2026-11-03T00:00:00Z")
    set_state(repo, "outbox_enabled", "on", frm="off", evidence=[])
    result = _judged(repo, monkeypatch, cached)
    assert any(f.rule == "consistency" for f in result.findings)


@BOTH
def test_a_stale_step_never_lends_its_entry_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cached: bool) -> None:
    """Files that came and went leave the history at off (entered Oct 2) while the only file left says shadow.

    The file's position names the step, but when the flag entered it is the
    other step's: shadow -> enforce with the soak counted from Oct 2 would pass.
    Refused as a history finding (found by an attack on the narrowed walk).
    """
    repo = new_repo(tmp_path, "2026-10-01T00:00:00Z")
    original = flag_path(repo, DUAL_NAME).read_text()
    second = repo / "flags/q_second.yaml"
    second.write_text(original)
    set_top(second, "state", "off")
    commit_all(repo, "a second file names dual write off", "2026-10-02T00:00:00Z")
    (repo / "flags/a_third.yaml").write_text(original)
    commit_all(repo, "a third, at shadow", "2026-10-03T00:00:00Z")
    second.unlink()
    (repo / "flags/a_third.yaml").unlink()
    commit_all(repo, "both go", "2026-11-19T00:00:00Z")
    set_state(repo, DUAL_NAME, "enforce", frm="shadow", evidence=three_runs(repo))
    result = _judged(repo, monkeypatch, cached, now="2026-11-21T00:00:00Z")
    assert [f.rule for f in result.findings if f.severity == "error"].count("history") == 1
    assert any("history has it at off but its file at shadow" in f.message and "demote it one step" in f.message for f in result.findings)


@BOTH
def test_a_stale_step_cannot_reopen_a_completed_plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cached: bool) -> None:
    """The backfill completed its plan; a second file at read_only came and went, masked by a third: off -> read_only is refused."""
    backfill = "ledger_backfill_mode"
    repo = new_repo(tmp_path, "2026-10-01T00:00:00Z")
    for state, frm, when in (("read_only", "off", "02"), ("active", "read_only", "04"), ("off", "active", "06")):
        set_state(repo, backfill, state, frm=frm, evidence=[])
        commit_all(repo, state, f"2026-10-{when}T00:00:00Z")
    done = flag_path(repo, backfill).read_text()
    second = repo / "flags/q_second.yaml"
    second.write_text(done)
    set_top(second, "state", "read_only")
    commit_all(repo, "a second file names the backfill read_only", "2026-10-07T00:00:00Z")
    (repo / "flags/a_third.yaml").write_text(done)
    commit_all(repo, "a third at off", "2026-10-08T00:00:00Z")
    (repo / "flags/a_third.yaml").unlink()
    second.unlink()
    commit_all(repo, "both go", "2026-10-09T00:00:00Z")
    set_state(repo, backfill, "read_only", frm="off", evidence=[])
    result = _judged(repo, monkeypatch, cached, now="2026-11-21T00:00:00Z")
    assert "history" in [f.rule for f in result.findings if f.severity == "error"]
