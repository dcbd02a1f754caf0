"""The newest-runs rule's kept readings of runs (``histcache.KeptRuns``): the same verdicts as reading every run.

A promotion reads every run of its flag (a red run newer than the cited ones
blocks); what the rule read of a run is kept by the blob id that names its
bytes, and used only for a file git holds as it is.  A file changed on disk,
one git is told to assume unchanged, a spoiled or forged entry: read again.
"""

from __future__ import annotations

import json
import random
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_json
from tests.gitrepo import commit_all, git, new_repo, set_state, three_runs, write_run
from validator import histcache
from validator.plan import Position
from validator.repo import WorkTree
from validator.rules.evidence import seen_of

NOW = "2026-11-20T12:00:00Z"
DUAL = "allocation_dual_write"
_RED = {"ledger_total": "1010000.00", "legacy_total": "1000000.00", "failed_ledger_writes": 900, "total_ledger_writes": 1000}


def _in_step_as_read(data: dict[str, Any], left: Position) -> bool:
    """The rule's question as it read it from a run's whole data before readings were kept."""
    if data.get("flag_state") != left.state:
        return False
    return left.percentage is None or data.get("flag_percentage", left.percentage) == left.percentage


_PERCENTAGES: list[Any] = [
    5,
    25,
    0,
    100,
    True,
    False,
    None,
    "5",
    Decimal("5"),
    Decimal("5.0"),
    Decimal("-0"),
    Decimal("5.5"),
    Decimal("25E0"),
    Decimal("1E+999999"),
    Decimal("2.5E1"),
    [5],
    {"p": 5},
    10**30,
]


def test_a_kept_reading_answers_as_the_whole_data_did() -> None:
    """Every shape of flag_state and flag_percentage, against every position left: the same answer, kept or not."""
    chooser = random.Random(7)
    positions = [Position("shadow"), Position("canary", 5), Position("canary", 25), Position("canary", 1), Position("full", 100)]
    for _ in range(3000):
        data: dict[str, Any] = {"seq": chooser.choice([1, 104, 10**20])}
        data["flag_state"] = chooser.choice(["shadow", "canary", "full", None, 3, ["canary"]])
        if chooser.random() < 0.8:
            data["flag_percentage"] = chooser.choice(_PERCENTAGES)
        data["status"] = chooser.choice(["green", "red", None, 1])
        seen = seen_of(data)
        if seen is None:
            raise AssertionError(data)
        kept = histcache._seen(json.loads(json.dumps(histcache._seen_json(seen))))
        assert kept == seen, data
        for left in positions:
            assert seen.in_step(left) == _in_step_as_read(data, left), (data, left)
    assert seen_of({"seq": "104"}) is None and seen_of({"seq": True}) is None and seen_of([1]) is None


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv(histcache.DISABLE_ENV, raising=False)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    repo = new_repo(tmp_path)
    for seq in range(1, 40):
        write_run(repo, DUAL, f"rr-{seq:04d}", seq, state="enforce" if seq % 2 else "shadow", finished="2026-11-19T01:12:00Z")
    write_run(repo, DUAL, "rr-0200", 200, state="enforce", finished="2026-11-19T02:12:00Z")
    commit_all(repo, "runs", "2026-11-19T03:00:00Z")
    return repo


def _promote(repo: Path) -> None:
    set_state(repo, DUAL, "enforce", frm="shadow", justification="3 green cycles", evidence=three_runs(repo))


def _red_run_on_base(repo: Path) -> None:
    write_run(repo, DUAL, "rr-0500", 500, status="red", inputs=_RED, finished="2026-11-19T02:12:00Z")
    commit_all(repo, "a red run", "2026-11-19T04:00:00Z")


def _gate(repo: Path, capsys: pytest.CaptureFixture[str], *extra: str, base: str = "HEAD") -> tuple[int, dict[str, Any]]:
    return run_json(["check", "--root", str(repo), "--base", base, "--now", NOW, *extra], capsys)


def _evidence_messages(report: dict[str, Any]) -> list[str]:
    return sorted(e["message"] for e in [*report["errors"], *report["warnings"]] if e["rule"] == "evidence")


def _kept_file(repo: Path) -> Path:
    found = list((repo / ".git" / "flaggate").glob("runs-*.json"))
    assert len(found) == 1, found
    return found[0]


class _Reads:
    """The run files read from disk, path by path."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.paths: list[str] = []
        original = WorkTree.read_many

        def read_many(tree: WorkTree, paths: list[str]) -> list[bytes | None]:
            self.paths.extend(p for p in paths if p.startswith(f"evidence/{DUAL}/"))
            return original(tree, paths)

        monkeypatch.setattr(WorkTree, "read_many", read_many)


def test_kept_readings_give_the_verdict_of_reading_every_run(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _promote(repo)
    monkeypatch.setenv(histcache.DISABLE_ENV, "1")
    plain = _gate(repo, capsys)
    assert not (repo / ".git" / "flaggate").exists()
    monkeypatch.delenv(histcache.DISABLE_ENV)
    reads = _Reads(monkeypatch)
    first = _gate(repo, capsys)
    read_first = len(reads.paths)
    kept = json.loads(_kept_file(repo).read_text())
    assert len(kept["runs"]) == 40  # every base run git holds as it is; the three new ones are not in git yet
    second = _gate(repo, capsys)
    assert plain == first == second and plain[0] == 0, plain
    assert read_first >= 43 and len(reads.paths) - read_first == 3  # the second time only the new (untracked) runs


def test_a_newer_red_run_is_found_through_kept_readings(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _promote(repo)
    write_run(repo, DUAL, "rr-0500", 500, status="red", inputs=_RED, finished="2026-11-19T02:12:00Z")
    git(repo, "add", "-A", "evidence")  # staged: git holds it as it is, so its reading is kept
    first = _gate(repo, capsys)
    blob = git(repo, "rev-parse", f":evidence/{DUAL}/rr-0500.json").strip()
    assert json.loads(_kept_file(repo).read_text())["runs"][blob] == [500, "shadow", "absent", "red"]
    code, report = _gate(repo, capsys)
    assert (code, report) == first
    assert code == 1 and any("rr-0500 (seq 500, status red) in shadow is newer" in m for m in _evidence_messages(report)), report


@pytest.mark.parametrize("how", ["edited", "assume-unchanged", "skip-worktree"])
def test_a_run_changed_on_disk_is_read_again(repo: Path, capsys: pytest.CaptureFixture[str], how: str) -> None:
    """rr-0200 ran in enforce when its reading was kept; on disk it now says shadow and red: that is what is judged."""
    _promote(repo)
    code, _ = _gate(repo, capsys)
    blob = git(repo, "rev-parse", f"HEAD:evidence/{DUAL}/rr-0200.json").strip()
    assert code == 0 and json.loads(_kept_file(repo).read_text())["runs"][blob] == [200, "enforce", "absent", "green"]
    path = repo / f"evidence/{DUAL}/rr-0200.json"
    if how != "edited":
        git(repo, "update-index", f"--{how}", str(path.relative_to(repo)))
    data = json.loads(path.read_text())
    data.update({"flag_state": "shadow", "status": "red"})
    path.write_text(json.dumps(data, indent=1))
    code, report = _gate(repo, capsys)
    assert code == 1 and any("rr-0200 (seq 200, status red) in shadow is newer" in m for m in _evidence_messages(report)), report


@pytest.mark.parametrize("how", ["forged", "spoiled", "other-version"])
def test_a_kept_file_not_as_written_changes_nothing_but_time(repo: Path, capsys: pytest.CaptureFixture[str], how: str) -> None:
    _red_run_on_base(repo)
    _promote(repo)
    expected = _gate(repo, capsys)
    assert expected[0] == 1
    kept = _kept_file(repo)
    data = json.loads(kept.read_text())
    blob = git(repo, "rev-parse", f"HEAD:evidence/{DUAL}/rr-0500.json").strip()
    assert data["runs"][blob] == [500, "shadow", "absent", "red"]
    if how == "forged":  # a reading that is not a reading: [seq, step, percentage, status] of the wrong kinds
        data["runs"][blob] = [500, "shadow", 5.5, "red", "x"]
    elif how == "spoiled":
        data["runs"][blob] = {"seq": 1}
    else:
        data["version"] = -1
    kept.write_text(json.dumps(data))
    assert _gate(repo, capsys) == expected


def test_a_revision_judged_reads_kept_readings_by_its_blob_ids(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _red_run_on_base(repo)
    _promote(repo)
    commit_all(repo, "promote beside a red run", "2026-11-19T05:00:00Z")
    head = git(repo, "rev-parse", "HEAD").strip()
    cold = _gate(repo, capsys, "--head", head, base="HEAD~1")
    warm = _gate(repo, capsys, "--head", head, base="HEAD~1")
    assert cold == warm and cold[0] == 1 and any("rr-0500" in m and "is newer" in m for m in _evidence_messages(cold[1]))
    assert len(json.loads(_kept_file(repo).read_text())["runs"]) == 41  # every run but the three cited


def test_index_blobs_reads_entries_where_they_start(tmp_path: Path) -> None:
    """A file name may hold the text of an entry; only whole entries of unchanged regular files count."""
    repo = new_repo(tmp_path)
    directory = repo / "evidence" / DUAL
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "rr-0001.json").write_text("{}")
    (directory / "x.json").write_text("[]")
    (directory / "run.sh").write_text("#!/bin/sh\n")
    (directory / "run.sh").chmod(0o755)
    fake = "0" * 40
    (directory / f"evil H 100644 {fake} 0\tevidence").mkdir()
    (directory / f"evil H 100644 {fake} 0\tevidence" / "y.json").write_text("1")
    (directory / "link.json").symlink_to("rr-0001.json")
    commit_all(repo, "runs", "2026-11-19T03:00:00Z")
    (directory / "x.json").write_text("[1]")  # changed on disk
    reading = histcache.index_blobs(repo, f"evidence/{DUAL}")
    assert reading is not None
    found, digest = reading.blobs, reading.digest
    expected = {
        f"evidence/{DUAL}/{name}": git(repo, "rev-parse", f"HEAD:evidence/{DUAL}/{name}").strip()
        for name in ("rr-0001.json", "run.sh", f"evil H 100644 {fake} 0\tevidence/y.json")
    }
    assert found == expected
    assert fake not in found.values()
    (directory / "x.json").write_text("[]")  # as git holds it again
    again = histcache.index_blobs(repo, f"evidence/{DUAL}")
    assert again is not None and again.digest != digest and len(again.blobs) == len(found) + 1


def _put_run(chooser: random.Random, directory: Path, run_id: str) -> None:
    seq = chooser.choice([chooser.randint(1, 60), chooser.randint(1, 60), "7", None])
    data: dict[str, Any] = {"seq": seq, "flag_state": chooser.choice(["shadow", "shadow", "enforce", 3])}
    if chooser.random() < 0.3:
        data["flag_percentage"] = chooser.choice([5, 25, None, "5"])
    data["status"] = chooser.choice(["green", "red", None])
    text = json.dumps(data) if chooser.random() < 0.9 else '{"seq": 5,'
    (directory / f"{run_id}.json").write_text(text)


def _newest_findings(repo: Path, left: Position, cited: list[Any], others: list[str], kept: Any) -> list[tuple[str, int, int, str, str]]:
    from validator.rules import evidence

    found: list[tuple[str, int, int, str, str]] = []

    def at_flag(path: tuple[Any, ...], message: str) -> None:
        found.append(("flag", 0, 0, "", message))

    work = WorkTree(repo)
    result = evidence._newest(DUAL, left, cited, others, work.read, at_flag, 3, work.read_many, kept)
    return found + [(f.file, f.line, f.column, f.severity, f.message) for f in result]


def _kept_runs(repo: Path) -> histcache.KeptRuns:
    cache = histcache.open_cache(repo)
    assert cache is not None
    work = WorkTree(repo)
    return histcache.KeptRuns(cache, DUAL, work.blob_ids, work.blob_digest)


def test_directory_readings_give_the_findings_of_reading_every_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Random directories (seqs repeated, other steps and percentages, unreadable runs, untracked and edited files) and
    random citations: the newest-runs rule's findings, in order, read every time, through the readings kept by blob id,
    and through the directory kept by seq, are one list."""
    from validator.rules import evidence

    monkeypatch.delenv(histcache.DISABLE_ENV, raising=False)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    chooser = random.Random(11)
    for case in range(12):
        repo = new_repo(tmp_path / f"case{case}")
        directory = repo / "evidence" / DUAL
        directory.mkdir(parents=True, exist_ok=True)
        for i in range(chooser.randint(5, 40)):
            _put_run(chooser, directory, f"rr-{i:03d}")
        commit_all(repo, "runs", "2026-11-19T03:00:00Z")
        for i in range(chooser.randint(0, 4)):
            _put_run(chooser, directory, f"rr-new-{i}")  # untracked
        for path in chooser.sample(sorted(directory.iterdir()), 2):
            if path.name.startswith("rr-0") and chooser.random() < 0.5:
                _put_run(chooser, directory, path.name[: -len(".json")])  # edited on disk
        tree = WorkTree(repo)
        on_file = evidence.run_ids(tree, DUAL)
        for _ in range(4):
            cited_ids = chooser.sample(on_file, min(3, len(on_file)))
            cited = [evidence.load_run(DUAL, run_id, tree.read(evidence.evidence_path(DUAL, run_id)) or b"") for run_id in cited_ids]
            others = [i for i in on_file if i not in cited_ids]
            left = chooser.choice([Position("shadow"), Position("canary", 5)])
            plain = _newest_findings(repo, left, cited, others, None)
            cold = _kept_runs(repo)
            assert _newest_findings(repo, left, cited, others, cold) == plain, case
            cold.save()
            assert _newest_findings(repo, left, cited, others, _kept_runs(repo)) == plain, case  # by blob id, then the directory kept
            if any(run.seq is not None for run in cited):  # else the rule asks nothing of the others
                assert list((repo / ".git" / "flaggate").glob("directory-*.json")), case
            assert _newest_findings(repo, left, cited, others, _kept_runs(repo)) == plain, case


def test_a_reading_of_bytes_that_are_not_the_blob_is_not_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """core.autocrlf writes the red run rr-0500 with CRLF: on disk it is over the 1 MiB bound (unreadable, a warning),
    as git holds it a red run newer than the cited ones.  The working tree's reading was kept under the blob's id, and
    a check of the commit then passed with the cache and was refused without it (attack round 12)."""
    monkeypatch.delenv(histcache.DISABLE_ENV, raising=False)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    repo = new_repo(tmp_path)
    body = json.dumps({"run_id": "rr-0500", "flag": DUAL, "seq": 500, "flag_state": "shadow", "status": "red",
                       "started_at": "2026-11-19T01:00:00Z", "finished_at": "2026-11-19T02:12:00Z", "inputs": _RED})  # fmt: skip
    directory = repo / "evidence" / DUAL
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "rr-0500.json").write_text(body[:-1] + "\n" * (1024 * 1024 - 2000 - len(body)) + "}\n")
    commit_all(repo, "a red run, long", "2026-11-19T03:00:00Z")
    git(repo, "checkout", "-q", "-b", "pr")
    _promote(repo)
    head = commit_all(repo, "promote", "2026-11-19T04:00:00Z")
    args = ("--head", head)
    expected = _gate(repo, capsys, *args, base="main")
    assert expected[0] == 1 and any("rr-0500 (seq 500, status red)" in m for m in _evidence_messages(expected[1])), expected
    git(repo, "config", "core.autocrlf", "true")
    for path in directory.iterdir():
        path.unlink()
    git(repo, "checkout", "--", "evidence")
    assert (directory / "rr-0500.json").stat().st_size > 1024 * 1024 and git(repo, "diff-files", "--name-only") == ""
    shutil.rmtree(repo / ".git" / "flaggate", ignore_errors=True)
    # The working tree: rr-0500 is a file git holds as it is, so its blob is read, not the converted bytes on disk
    # (they were "cannot be read", a warning: a local green where the commit is refused; attack round 13).
    for cache in ("1", ""):
        monkeypatch.setenv(histcache.DISABLE_ENV, cache)
        on_disk = _gate(repo, capsys, base="main")
        assert on_disk[0] == 1 and any("rr-0500 (seq 500, status red)" in m for m in _evidence_messages(on_disk[1])), on_disk
    assert _gate(repo, capsys, *args, base="main") == expected
    monkeypatch.setenv(histcache.DISABLE_ENV, "1")
    assert _gate(repo, capsys, *args, base="main") == expected


def test_inherited_git_settings_change_no_reading(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hook run by ``git -c i18n.logOutputEncoding=UTF-16 commit`` inherits GIT_CONFIG_PARAMETERS, which git read
    after the pinned settings: the history read empty, and the empty walk was kept (attack round 12)."""
    monkeypatch.delenv(histcache.DISABLE_ENV, raising=False)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    repo = new_repo(tmp_path)
    _promote(repo)
    expected = _gate(repo, capsys)
    shutil.rmtree(repo / ".git" / "flaggate", ignore_errors=True)
    monkeypatch.setenv("GIT_CONFIG_PARAMETERS", "'i18n.logoutputencoding'='UTF-16' 'log.showroot'='false' 'color.ui'='always'")
    assert _gate(repo, capsys) == expected
    monkeypatch.delenv("GIT_CONFIG_PARAMETERS")
    assert _gate(repo, capsys) == expected  # and nothing wrong was kept meanwhile


def test_a_cited_run_is_judged_as_the_blob_a_commit_takes() -> None:
    """Where git holds a run as it is but the bytes read are not its blob (a user's clean filter, autocrlf),
    the blob is what is judged: a commit takes it (round 14)."""
    from validator.rules import evidence

    held_bytes, disk_bytes = b'{"seq": 104, "status": "red"}\n', b'{"seq": 104, "status": "green"}\n'
    blob = evidence.blob_id(held_bytes, 40)
    asked: list[list[str]] = []

    class Tree:
        def blob_ids(self, paths: list[str]) -> dict[str, str]:
            return {p: blob for p in paths if p.endswith("rr-0104.json")}

        def read_blobs(self, ids: list[str]) -> list[bytes | None]:
            asked.append(ids)
            return [held_bytes if i == blob else None for i in ids]

    tree = Tree()
    path, other = f"evidence/{DUAL}/rr-0104.json", f"evidence/{DUAL}/untracked.json"

    def judged(where: str, raw: bytes) -> bytes | None:
        raws: list[bytes | None] = [raw]
        assert evidence._as_held([where], raws, tree.blob_ids([where]), tree.read_blobs) == []
        return raws[0]

    assert judged(path, disk_bytes) == held_bytes and asked == [[blob]]
    assert judged(path, held_bytes) == held_bytes and len(asked) == 1  # the blob's own bytes: not read again
    assert judged(other, disk_bytes) == disk_bytes
    assert evidence._as_held([path], [disk_bytes], {path: "0" * 40}, tree.read_blobs) == [path]  # git cannot give it
    assert evidence.blob_id(b"hello\n", 40) == "ce013625030ba8dba906f756967f9e9ca394464a"  # git hash-object
