"""The standing read from a flag's newest versions (``validator.narrow``) against every flag's whole walk.

Each case is a real git history; the quick answer, where it gives one, must
be the whole walk's (step, entry commit and time, runs the change cites that
were cited before), and ``check --base`` must give the same verdict both
ways.  Where the quick reading cannot be sure (a second file, a deletion, a
run cited before), it must leave the flag to the walk, and the cases say
which it does, so a quick path that always gave up would fail here too.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import copy_repo, init_git, run, set_top, set_transition
from tests.gitrepo import DUAL, commit_all, flag_path, git, new_repo, set_state, three_runs, write_run
from validator import check, gate, histcache, history, narrow, timeline
from validator.repo import WorkTree

DUAL_NAME = "allocation_dual_write"
NOW = "2026-11-20T12:00:00Z"


def _compare(repo: Path, monkeypatch: pytest.MonkeyPatch, cites: list[str], *, answers: bool, now: str = NOW) -> None:
    """The quick standing equals the whole walk's (and answers or not, as said); the verdicts agree."""
    monkeypatch.setenv(histcache.DISABLE_ENV, "1")
    sha = history.resolve(repo, "HEAD")
    path = next(p for p in (repo / "flags").glob("*.yaml") if f"name: {DUAL_NAME}\n" in p.read_text())
    quick = narrow.standings_of(repo, sha, {DUAL_NAME: narrow.Ask(f"flags/{path.name}", tuple(cites))})
    whole = timeline.standings_at(repo, sha, None)[DUAL_NAME]
    assert (DUAL_NAME in quick) == answers
    if answers:
        got = quick[DUAL_NAME]
        assert (got.step, got.entered_at, got.entered_commit) == (whole.step, whole.entered_at, whole.entered_commit)
        assert got.cited == {q: c for q, c in whole.cited.items() if q in cites}
    when = datetime.fromisoformat(now.replace("Z", "+00:00"))
    fast = check.run(repo, WorkTree(repo), base="HEAD", now=when)
    slow = check.judge_change(repo, gate.load_base(repo, "HEAD"), WorkTree(repo), when)
    key = sorted((f.file, f.line, f.column, f.rule, f.message, f.severity) for f in fast.findings)
    assert key == sorted((f.file, f.line, f.column, f.rule, f.message, f.severity) for f in slow.findings)
    assert fast.transitions == slow.transitions


def _promote(repo: Path, start: int = 101) -> list[str]:
    runs = three_runs(repo, start=start)
    set_state(repo, DUAL_NAME, "enforce", frm="shadow", evidence=runs)
    return runs


def _cycle(repo: Path, day: int, runs_from: int) -> None:
    """shadow -> enforce with three runs (committed with them), then back to shadow."""
    ids = []
    for i in range(3):
        run_id = f"rr-{runs_from + i:04d}"
        write_run(repo, DUAL_NAME, run_id, runs_from + i, finished=f"2026-11-{day:02d}T01:12:00Z")
        ids.append(run_id)
    set_state(repo, DUAL_NAME, "enforce", frm="shadow", evidence=ids)
    commit_all(repo, "enforce", f"2026-11-{day:02d}T06:00:00Z")
    set_state(repo, DUAL_NAME, "shadow", frm="enforce", reason="OPERATOR_DECISION")
    commit_all(repo, "back to shadow", f"2026-11-{day:02d}T12:00:00Z")


def test_demote_and_re_promote_many_times(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = new_repo(tmp_path, "2026-10-01T00:00:00Z")
    for n, day in enumerate(range(2, 12, 2)):
        _cycle(repo, day, 10 + 3 * n)
    runs = _promote(repo, start=200)
    _compare(repo, monkeypatch, runs, answers=True)
    _compare(repo, monkeypatch, runs, answers=True, now="2026-11-12T00:00:00Z")  # the soak not over: its entry in the message


def test_a_run_cited_before_is_left_to_the_walk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = new_repo(tmp_path, "2026-10-01T00:00:00Z")
    _cycle(repo, 2, 10)
    write_run(repo, DUAL_NAME, "rr-0013", 13, finished="2026-11-19T01:12:00Z")
    write_run(repo, DUAL_NAME, "rr-0014", 14, finished="2026-11-19T02:12:00Z")
    set_state(repo, DUAL_NAME, "enforce", frm="shadow", evidence=["rr-0012", "rr-0013", "rr-0014"])
    _compare(repo, monkeypatch, ["rr-0012", "rr-0013", "rr-0014"], answers=False)
    assert any("already cited" in f.message for f in check.run(repo, WorkTree(repo), base="HEAD", now=datetime.now().astimezone()).findings)


def test_a_run_cited_by_a_demote_is_not_a_citation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A demote's transition block naming a run: the bytes are there, the parse says it is no promotion's: answered."""
    repo = new_repo(tmp_path, "2026-10-01T00:00:00Z")
    runs = three_runs(repo, start=300)
    set_state(repo, DUAL_NAME, "off", frm="shadow", reason="OPERATOR_DECISION")
    commit_all(repo, "off", "2026-10-02T00:00:00Z")
    set_state(repo, DUAL_NAME, "shadow", frm="off", evidence=[])
    commit_all(repo, "shadow", "2026-10-03T00:00:00Z")
    text = flag_path(repo, DUAL_NAME).read_text().replace("justification: ", f"justification: mentions {runs[0]} ")
    flag_path(repo, DUAL_NAME).write_text(text)
    commit_all(repo, "justification names a run", "2026-10-04T00:00:00Z")
    set_state(repo, DUAL_NAME, "enforce", frm="shadow", evidence=runs)
    _compare(repo, monkeypatch, runs, answers=True)


def test_an_escaped_citation_is_left_to_the_walk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An earlier promotion cited rr-0101 spelled with YAML escapes: no bytes of the id, found all the same."""
    repo = new_repo(tmp_path, "2026-10-01T00:00:00Z")
    runs = three_runs(repo)
    set_state(repo, DUAL_NAME, "enforce", frm="shadow", evidence=['"rr\\x2d0101"', '"rr\\x2d0102"', '"rr\\x2d0103"'])
    assert b"rr-0101" not in flag_path(repo, DUAL_NAME).read_bytes()
    commit_all(repo, "enforce, escaped ids", "2026-10-10T00:00:00Z")
    set_state(repo, DUAL_NAME, "shadow", frm="enforce", reason="OPERATOR_DECISION")
    commit_all(repo, "back", "2026-10-11T00:00:00Z")
    set_state(repo, DUAL_NAME, "enforce", frm="shadow", evidence=runs)
    _compare(repo, monkeypatch, runs, answers=False)
    assert any("already cited" in f.message for f in check.run(repo, WorkTree(repo), base="HEAD", now=datetime.now().astimezone()).findings)


def test_deleted_and_re_added_is_left_to_the_walk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = new_repo(tmp_path, "2026-10-01T00:00:00Z")
    text = flag_path(repo, DUAL_NAME).read_text()
    flag_path(repo, DUAL_NAME).unlink()
    commit_all(repo, "gone", "2026-10-02T00:00:00Z")
    flag_path(repo, DUAL_NAME).write_text(text)
    commit_all(repo, "back", "2026-11-15T00:00:00Z")
    _compare(repo, monkeypatch, _promote(repo), answers=False)


def test_renamed_is_left_to_the_walk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = new_repo(tmp_path, "2026-10-01T00:00:00Z")
    set_state(repo, DUAL_NAME, "off", frm="shadow", reason="OPERATOR_DECISION")
    commit_all(repo, "off", "2026-10-02T00:00:00Z")
    set_state(repo, DUAL_NAME, "shadow", frm="off", evidence=[])
    commit_all(repo, "shadow", "2026-11-15T00:00:00Z")
    git(repo, "mv", DUAL, "flags/dual.yaml")
    commit_all(repo, "rename", "2026-11-16T00:00:00Z")
    set_top(repo / "flags/dual.yaml", "state", "enforce")
    ids = ", ".join(three_runs(repo))
    set_transition(repo / "flags/dual.yaml", f"transition:\n  from: shadow\n  to: enforce\n  justification: runs\n  evidence: [{ids}]\n")
    _compare(repo, monkeypatch, ["rr-0101", "rr-0102", "rr-0103"], answers=False)


def test_a_second_file_that_came_and_went_is_left_to_the_walk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = new_repo(tmp_path)
    second = repo / "flags/zz_second.yaml"
    second.write_text(flag_path(repo, DUAL_NAME).read_text())
    set_top(second, "state", "enforce")
    commit_all(repo, "a second file", "2026-11-15T00:00:00Z")
    second.unlink()
    commit_all(repo, "and goes", "2026-11-16T00:00:00Z")
    _compare(repo, monkeypatch, _promote(repo), answers=False)


def test_unreadable_versions_and_amends_on_the_way(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An unreadable version (no event), an amend of the soak and a reworded justification after the entry: answered."""
    repo = new_repo(tmp_path, "2026-10-01T00:00:00Z")
    set_state(repo, DUAL_NAME, "off", frm="shadow", reason="OPERATOR_DECISION")
    commit_all(repo, "off", "2026-10-02T00:00:00Z")
    good = flag_path(repo, DUAL_NAME).read_text()
    flag_path(repo, DUAL_NAME).write_text(good + "state: [unreadable\n")
    commit_all(repo, "broken", "2026-10-03T00:00:00Z")
    flag_path(repo, DUAL_NAME).write_text(good)
    set_state(repo, DUAL_NAME, "shadow", frm="off", evidence=[])
    commit_all(repo, "shadow", "2026-11-10T00:00:00Z")
    path = flag_path(repo, DUAL_NAME)
    path.write_text(path.read_text().replace("soak_days: 7", "soak_days: 5"))
    commit_all(repo, "amend the soak", "2026-11-11T00:00:00Z")
    flag_path(repo, DUAL_NAME).write_text(flag_path(repo, DUAL_NAME).read_text() + "state: [unreadable\n")
    commit_all(repo, "broken again", "2026-11-12T00:00:00Z")
    flag_path(repo, DUAL_NAME).write_text(path.read_text().replace("state: [unreadable\n", "").replace("test change", "reworded"))
    commit_all(repo, "reworded", "2026-11-13T00:00:00Z")
    runs = _promote(repo)
    _compare(repo, monkeypatch, runs, answers=True)
    _compare(repo, monkeypatch, runs, answers=True, now="2026-11-14T00:00:00Z")


def test_backdated_entry_and_merged_moves(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The entry into shadow comes by a merge, dated before an unrelated commit on main: its effective time counts."""
    repo = new_repo(tmp_path, "2026-10-01T00:00:00Z")
    set_state(repo, DUAL_NAME, "off", frm="shadow", reason="OPERATOR_DECISION")
    commit_all(repo, "off", "2026-10-02T00:00:00Z")
    git(repo, "checkout", "-q", "-b", "feature")
    set_state(repo, DUAL_NAME, "shadow", frm="off", evidence=[])
    commit_all(repo, "shadow (branch)", "2026-10-03T00:00:00Z")
    git(repo, "checkout", "-q", "main")
    (repo / "NOTES.md").write_text("main moves on\n")
    commit_all(repo, "unrelated, dated the 18th", "2026-11-18T00:00:00Z")
    git(repo, "merge", "-q", "--no-ff", "feature", "-m", "Merge feature", date="2026-11-01T00:00:00Z")
    runs = _promote(repo)
    _compare(repo, monkeypatch, runs, answers=True)
    _compare(repo, monkeypatch, runs, answers=True, now="2026-11-22T00:00:00Z")


def test_the_flag_and_its_evidence_in_one_direct_push(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A direct push promotes and demotes with runs in the same commits; the change then cites new runs: answered, the same."""
    repo = new_repo(tmp_path, "2026-10-01T00:00:00Z")
    _cycle(repo, 5, 50)
    _compare(repo, monkeypatch, _promote(repo, start=60), answers=True)


def test_a_position_twice_on_the_plan_before_the_move(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The backfill's plan has off twice: leaving read_only after coming from off is answered (read_only is once)."""
    backfill = "ledger_backfill_mode"
    repo = new_repo(tmp_path, "2026-10-01T00:00:00Z")
    set_state(repo, backfill, "read_only", frm="off", evidence=[])
    commit_all(repo, "read_only", "2026-11-02T00:00:00Z")
    monkeypatch.setenv(histcache.DISABLE_ENV, "1")
    sha = history.resolve(repo, "HEAD")
    quick = narrow.standings_of(repo, sha, {backfill: narrow.Ask(f"flags/{backfill}.yaml", ())})
    # off (the move's before) is twice on the plan: the step before the move is the walk's to tell
    assert backfill not in quick
    whole = timeline.standings_at(repo, sha, None)[backfill]
    assert whole.entered_commit == sha


# --- attacks on the quick reading: each promotion below a careful reviewer refuses; exit 1 both ways -----------
def _attack_short_soak(repo: Path) -> None:
    """Demoted and re-promoted into shadow yesterday, by a commit backdated a month: the soak restarts at the move."""
    _cycle(repo, 2, 10)
    (repo / "NOTES.md").write_text("unrelated\n")
    commit_all(repo, "unrelated", "2026-11-19T00:00:00Z")
    set_state(repo, DUAL_NAME, "off", frm="shadow", reason="OPERATOR_DECISION")
    commit_all(repo, "off", "2026-10-05T00:00:00Z")
    set_state(repo, DUAL_NAME, "shadow", frm="off", evidence=[])
    commit_all(repo, "shadow again", "2026-10-06T00:00:00Z")
    _promote(repo, start=200)


def _attack_reused_runs(repo: Path) -> None:
    _cycle(repo, 2, 10)
    set_state(repo, DUAL_NAME, "enforce", frm="shadow", evidence=["rr-0010", "rr-0011", "rr-0012"])


def _attack_reused_in_a_renamed_file(repo: Path) -> None:
    """The earlier promotion citing the runs was made in the flag's file under another name."""
    _cycle(repo, 2, 10)
    git(repo, "mv", DUAL, "flags/zz_dual.yaml")
    commit_all(repo, "rename", "2026-11-03T00:00:00Z")
    git(repo, "mv", "flags/zz_dual.yaml", DUAL)
    commit_all(repo, "rename back", "2026-11-04T00:00:00Z")
    set_state(repo, DUAL_NAME, "enforce", frm="shadow", evidence=["rr-0010", "rr-0011", "rr-0012"])


def _attack_reused_escaped(repo: Path) -> None:
    """The earlier promotion spelled the ids with YAML escapes (no bytes of the ids in any version)."""
    three_runs(repo)
    set_state(repo, DUAL_NAME, "enforce", frm="shadow", evidence=['"rr\\x2d0101"', '"rr\\x2d0102"', '"rr\\x2d0103"'])
    commit_all(repo, "enforce", "2026-10-10T00:00:00Z")
    set_state(repo, DUAL_NAME, "shadow", frm="enforce", reason="OPERATOR_DECISION")
    commit_all(repo, "back", "2026-10-11T00:00:00Z")
    set_state(repo, DUAL_NAME, "enforce", frm="shadow", evidence=["rr-0101", "rr-0102", "rr-0103"])


def _attack_newer_red_run(repo: Path) -> None:
    """A red run newer than the cited ones sits on the base, uncited, among many green ones."""
    for seq in range(1, 60):
        write_run(repo, DUAL_NAME, f"rr-{seq:04d}", seq, finished="2026-11-19T01:12:00Z")
    write_run(repo, DUAL_NAME, "rr-0500", 500, finished="2026-11-19T02:12:00Z", status="red")
    commit_all(repo, "runs", "2026-11-19T03:00:00Z")
    _promote(repo)


def _attack_joined_runs(repo: Path) -> None:
    """Two base runs that read as one object only when joined: the newer red run must still be found (or warned about)."""
    write_run(
        repo, DUAL_NAME, "rr-0600", 0, raw='{"run_id": "rr-0600", "flag": "allocation_dual_write", "seq": 600, "flag_state": "shadow"'
    )
    write_run(repo, DUAL_NAME, "rr-0601", 0, raw=', "status": "red"}')
    write_run(repo, DUAL_NAME, "rr-0700", 700, status="red", finished="2026-11-19T02:12:00Z")
    commit_all(repo, "runs", "2026-11-19T03:00:00Z")
    _promote(repo)


def _attack_runs_older_than_the_step(repo: Path) -> None:
    """Runs that started before the flag re-entered shadow (yesterday) are cited."""
    for i, run_id in enumerate(("rr-0101", "rr-0102", "rr-0103")):
        write_run(repo, DUAL_NAME, run_id, 101 + i, finished=f"2026-11-1{i}T01:12:00Z")
    commit_all(repo, "runs", "2026-11-13T00:00:00Z")
    set_state(repo, DUAL_NAME, "off", frm="shadow", reason="OPERATOR_DECISION")
    commit_all(repo, "off", "2026-11-14T00:00:00Z")
    set_state(repo, DUAL_NAME, "shadow", frm="off", evidence=[])
    commit_all(repo, "shadow", "2026-11-15T00:00:00Z")
    set_state(repo, DUAL_NAME, "enforce", frm="shadow", evidence=["rr-0101", "rr-0102", "rr-0103"])


ATTACKS = [  # (the history and change, what the refusal must say)
    (_attack_short_soak, "entered shadow at 2026-11-19T00:00:00Z"),
    (_attack_reused_runs, "already cited by the promotion"),
    (_attack_reused_in_a_renamed_file, "already cited by the promotion"),
    (_attack_reused_escaped, "already cited by the promotion"),
    (_attack_newer_red_run, "run rr-0500 (seq 500, status red) in shadow is newer"),
    (_attack_joined_runs, "run rr-0700 (seq 700, status red) in shadow is newer"),
    (_attack_runs_older_than_the_step, "before the flag entered shadow at 2026-11-15T00:00:00Z"),
]


@pytest.mark.parametrize(("attack", "said"), ATTACKS, ids=[a.__name__[len("_attack_") :] for a, _ in ATTACKS])
@pytest.mark.parametrize("cached", ["from-git", "kept", "answered"])
def test_attacks_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], attack: Any, said: str, cached: str
) -> None:
    """From git alone, from a walk kept by ``plan``, and from the answer the same check kept the time before."""
    repo = new_repo(tmp_path, "2026-10-01T00:00:00Z")
    attack(repo)
    if cached == "kept":
        monkeypatch.delenv(histcache.DISABLE_ENV, raising=False)
        git(repo, "add", "-A")
        assert run(["plan", DUAL_NAME, "--root", str(repo), "--base", "HEAD"], capsys)[0] in (0, 1)  # keeps a walk for HEAD
        git(repo, "reset", "-q")
    elif cached == "answered":
        monkeypatch.delenv(histcache.DISABLE_ENV, raising=False)
        first = run(["check", "--root", str(repo), "--base", "HEAD", "--now", NOW], capsys)
        assert first[0] == 1 and said in first[1], first
    else:
        monkeypatch.setenv(histcache.DISABLE_ENV, "1")
    code, out, err = run(["check", "--root", str(repo), "--base", "HEAD", "--now", NOW], capsys)
    assert code == 1 and said in out, out + err
    monkeypatch.setenv(histcache.DISABLE_ENV, "1")
    when = datetime.fromisoformat(NOW.replace("Z", "+00:00"))
    fast = check.run(repo, WorkTree(repo), base="HEAD", now=when)
    slow = check.judge_change(repo, gate.load_base(repo, "HEAD"), WorkTree(repo), when)
    assert sorted(map(str, fast.findings)) == sorted(map(str, slow.findings))


def test_the_quick_listing_is_the_walks(tmp_path: Path) -> None:
    """``history.flag_changes`` lists what ``first_parent_log`` lists, odd file names, merges and deletions included."""
    repo = new_repo(tmp_path, "2026-10-01T00:00:00Z")
    odd = ["flags/a b.yaml", "flags/\u00e9t\u00e9.yaml", "flags/x\x1ey.yaml", "flags/:100644 100644 x.yaml", "flags/q\nr.yaml"]
    for i, name in enumerate(odd):
        (repo / name).write_text(f"n{i}\n")
        commit_all(repo, f"odd {i}", f"2026-10-0{2 + i}T00:00:00Z")
    git(repo, "checkout", "-q", "-b", "side")
    (repo / odd[0]).unlink()
    commit_all(repo, "gone on a branch", "2026-10-08T00:00:00Z")
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "--no-ff", "side", "-m", "merge", date="2026-10-09T00:00:00Z")
    (repo / odd[1]).unlink()
    (repo / odd[1]).symlink_to("a b.yaml")
    commit_all(repo, "a link", "2026-10-10T00:00:00Z")
    sha = history.resolve(repo, "HEAD")
    walk = history.first_parent_log(repo, sha, ["flags/"], people=False)
    assert history.flag_changes(repo, sha, "flags/") == [(c.sha, [(x.path, x.new_mode, x.new_blob) for x in c.changes]) for c in walk]
    assert len(walk) == len(odd) + 3


def test_a_walk_kept_for_an_ancestor_is_gone_on_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A walk kept one commit back (and a move since): ``check --base`` goes on from it, with the whole walk's verdict."""
    repo = new_repo(tmp_path, "2026-10-01T00:00:00Z")
    _cycle(repo, 2, 10)
    monkeypatch.delenv(histcache.DISABLE_ENV, raising=False)
    assert run(["plan", DUAL_NAME, "--root", str(repo), "--base", "HEAD"], capsys)[0] in (0, 1)
    kept = {p.name for p in (repo / ".git" / "flaggate").iterdir()}
    set_state(repo, DUAL_NAME, "off", frm="shadow", reason="OPERATOR_DECISION")
    commit_all(repo, "off", "2026-11-17T00:00:00Z")
    set_state(repo, DUAL_NAME, "shadow", frm="off", evidence=[])
    commit_all(repo, "shadow", "2026-11-18T00:00:00Z")
    runs = _promote(repo, start=200)
    code, out, _ = run(["check", "--root", str(repo), "--base", "HEAD", "--now", NOW], capsys)
    assert code == 1 and "entered shadow at 2026-11-18T00:00:00Z" in out
    assert {p.name for p in (repo / ".git" / "flaggate").iterdir()} > kept  # went on from the kept walk, and kept the new one
    _compare(repo, monkeypatch, runs, answers=True)


@pytest.mark.heavy(3)
def test_a_commit_adding_thousands_of_flag_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One commit adds 3,000 files under flags/ (git lists them while their blobs are read): no pipe fills, the same verdict."""
    repo = new_repo(tmp_path, "2026-10-01T00:00:00Z")
    for i in range(3000):
        (repo / "flags" / f"zz_bulk_{i:04d}.yaml").write_text(f"name: bulk_{i}\n# {'x' * 200}\n")
    commit_all(repo, "bulk", "2026-10-02T00:00:00Z")
    for i in range(3000):
        (repo / "flags" / f"zz_bulk_{i:04d}.yaml").unlink()
    commit_all(repo, "bulk gone", "2026-10-03T00:00:00Z")
    _compare(repo, monkeypatch, _promote(repo), answers=True)


def test_percentage_steps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The read switch at canary 5% since a move, with a reworded block after: canary 5% -> 25% is read from its newest versions."""
    switch = "allocation_read_switch"
    repo = new_repo(tmp_path, "2026-10-01T00:00:00Z")
    set_state(repo, switch, "canary", percentage=5, frm="off", evidence=[])
    commit_all(repo, "canary 5", "2026-11-10T00:00:00Z")
    set_state(repo, switch, "canary", percentage=5, frm="off", evidence=[], justification="reworded")
    commit_all(repo, "reworded", "2026-11-12T00:00:00Z")
    ids = []
    for i in range(3):
        write_run(repo, switch, f"rs-{i + 1}", i + 1, state="canary", finished=f"2026-11-1{5 + i}T01:12:00Z", flag_percentage=5)
        ids.append(f"rs-{i + 1}")
    set_state(repo, switch, "canary", percentage=25, frm="canary", from_pct=5, evidence=ids)
    monkeypatch.setenv(histcache.DISABLE_ENV, "1")
    sha = history.resolve(repo, "HEAD")
    quick = narrow.standings_of(repo, sha, {switch: narrow.Ask(f"flags/{switch}.yaml", tuple(ids))})
    whole = timeline.standings_at(repo, sha, None)[switch]
    got = quick[switch]
    assert (
        (got.step, got.entered_at, got.entered_commit)
        == (whole.step, whole.entered_at, whole.entered_commit)
        == (
            1,
            whole.entered_at,
            git(repo, "rev-parse", "HEAD~1").strip(),
        )
    )
    for now in (NOW, "2026-11-12T06:00:00Z"):
        when = datetime.fromisoformat(now.replace("Z", "+00:00"))
        fast = check.run(repo, WorkTree(repo), base="HEAD", now=when)
        slow = check.judge_change(repo, gate.load_base(repo, "HEAD"), WorkTree(repo), when)
        assert sorted(map(str, fast.findings)) == sorted(map(str, slow.findings))


def test_blob_search_finds_exactly_the_blobs_holding_a_needle(tmp_path: Path) -> None:
    """Needles in contents only (not in git's headers, not across two objects), fake headers inside a blob, a missing id."""
    repo = new_repo(tmp_path)
    bodies = [b"plain\n", b"xx needle yy", b"needl", b"e start", b"0 blob 12\nneedle\n", b"", b"blob", b"n" * 300_000 + b"needle"]
    ids = []
    for i, body in enumerate(bodies):
        (tmp_path / f"b{i}").write_bytes(body)
        ids.append(git(repo, "hash-object", "-w", str(tmp_path / f"b{i}")).strip())
    for needles in ([b"needle"], [b"blob"], [ids[0][:12].encode()], [b"needle", b"\\"]):
        search = history.BlobSearch(repo, needles)
        search.add(ids[:4])
        search.add(ids[2:])
        got = search.finish()
        assert got == {i: b for i, b in zip(ids, bodies) if any(n in b for n in needles)}, needles
    missing = history.BlobSearch(repo, [b"needle"])
    missing.add([ids[0], "0" * 39 + "1", ids[1]])
    assert missing.finish() is None


def test_a_flag_whose_old_path_another_asked_flag_has_now_is_judged_by_the_walk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """ledger_backfill_mode completed its plan at flags/zz_backfill_two.yaml, then moved to its own path and a
    second backfill took the old one.  A change amending the second and promoting the first asks about both:
    the quick reading searched each asked path for its own flag only and read the promotion as out of a fresh
    off (attack: a completed plan reopened, exit 0).  Several flags asked go to the whole walk."""
    monkeypatch.setenv(histcache.DISABLE_ENV, "1")
    repo = copy_repo(tmp_path / "repo")
    two, own = repo / "flags/zz_backfill_two.yaml", repo / "flags/ledger_backfill_mode.yaml"
    original = own.read_text()
    own.rename(two)  # born at another path: it has never been at its own yet
    init_git(repo)
    for state, frm, day in (("read_only", "off", "02"), ("active", "read_only", "04"), ("off", "active", "06")):
        set_transition(two, f"transition:\n  from: {frm}\n  to: {state}\n  justification: test change\n")
        set_top(two, "state", state)
        commit_all(repo, f"backfill {state}", f"2026-11-{day}T00:00:00Z")
    git(repo, "mv", "flags/zz_backfill_two.yaml", "flags/ledger_backfill_mode.yaml")
    two.write_text(original.replace("name: ledger_backfill_mode", "name: zz_backfill_two"))
    commit_all(repo, "back to its own path; a second backfill at the old one", "2026-11-08T00:00:00Z")
    set_transition(own, "transition:\n  from: off\n  to: read_only\n  justification: start the backfill again\n")
    set_top(own, "state", "read_only")
    two.write_text(two.read_text().replace("soak_days: 1", "soak_days: 2"))  # an amend: zz_backfill_two is asked too
    code, out, _ = run(["check", "--root", str(repo), "--base", "HEAD", "--now", NOW], capsys)
    assert code == 1 and "the rollout plan is complete" in out, out


def test_the_answer_kept_for_a_check_is_read_back_for_the_same_question_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A second check of the same change reads the kept answer (git is not asked); other runs cited: asked again."""
    monkeypatch.delenv(histcache.DISABLE_ENV, raising=False)
    repo = new_repo(tmp_path, "2026-10-01T00:00:00Z")
    _cycle(repo, 10, 1)
    write_run(repo, DUAL_NAME, "rr-0500", 500, finished="2026-11-19T02:12:00Z")
    commit_all(repo, "a run", "2026-11-19T03:00:00Z")
    _promote(repo)
    args = ["check", "--root", str(repo), "--base", "HEAD", "--now", NOW]
    first = run(args, capsys)
    kept = list((repo / ".git" / "flaggate").glob("answers-*.json"))
    assert first[0] == 1 and len(kept) == 1, first  # rr-0500 is newer than the cited runs
    asked: list[Any] = []
    original = narrow.standings_of
    monkeypatch.setattr(narrow, "standings_of", lambda *a: asked.append(a) or original(*a))
    assert run(args, capsys) == first and asked == []
    set_state(repo, DUAL_NAME, "enforce", frm="shadow", evidence=["rr-0001", "rr-0002", "rr-0003"])  # cited before
    code, out, _ = run(args, capsys)
    assert code == 1 and "already cited by the promotion" in out and len(asked) == 1
