"""The kept walks of the state history (``validator.histcache``): same answers with and without them.

They are derived from git only and never trusted over it: a missing, corrupt,
forged or off-history entry changes nothing but the time taken.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run
from tests.gitrepo import commit_all, git, set_state
from tests.test_audit import history  # noqa: F401  (the golden history fixture)
from validator import audit, histcache, timeline


def _cache_dir(repo: Path) -> Path:
    return repo / ".git" / "flaggate"


def _plain(repo: Path, sha: str, monkeypatch: pytest.MonkeyPatch) -> tuple[str, dict[str, Any]]:
    """The audit log and standings at ``sha`` read from git alone (no cache read or written)."""
    monkeypatch.setenv(histcache.DISABLE_ENV, "1")
    try:
        log = audit.text(repo, sha)
        standings = timeline.standings(timeline.events_of(repo, sha))
    finally:
        monkeypatch.delenv(histcache.DISABLE_ENV)
    return log, {k: vars(v) for k, v in standings.items()}


def _cached(repo: Path, sha: str) -> tuple[str, dict[str, Any]]:
    return audit.text(repo, sha), {k: vars(v) for k, v in timeline.standings_at(repo, sha).items()}


def _first_parent(repo: Path) -> list[str]:
    return git(repo, "rev-list", "--first-parent", "--reverse", "HEAD").split()


def test_disabled_writes_nothing(history: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    repo = history["repo"]
    monkeypatch.setenv(histcache.DISABLE_ENV, "1")
    audit.text(repo, "HEAD")
    timeline.standings_at(repo, git(repo, "rev-parse", "HEAD").strip())
    assert not _cache_dir(repo).exists()


def test_every_commit_going_on_from_the_one_before(history: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    """Walked commit after commit (each going on from the kept one before), every answer is the plain one."""
    repo = history["repo"]
    monkeypatch.delenv(histcache.DISABLE_ENV, raising=False)
    order = _first_parent(repo)
    plain = {sha: _plain(repo, sha, monkeypatch) for sha in order}
    for sha in order:
        assert _cached(repo, sha) == plain[sha]
    kept = sorted(p.name.split("-")[0] for p in _cache_dir(repo).iterdir())
    assert "audit" in kept and "standings" in kept
    for sha in order:  # exact hits now, or the nearest kept ancestor
        assert _cached(repo, sha) == plain[sha]


def test_going_on_after_new_commits(history: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    repo = history["repo"]
    monkeypatch.delenv(histcache.DISABLE_ENV, raising=False)
    first = _cached(repo, "HEAD")
    set_state(repo, "event_stream_enabled", "shadow", frm="off", evidence=[])
    commit_all(repo, "shadow again", "2026-11-18T09:00:00Z")
    head = git(repo, "rev-parse", "HEAD").strip()
    assert _cached(repo, head) == _plain(repo, head, monkeypatch) != first
    code, out, _ = run(["audit-log", "--root", str(repo)], capsys)
    assert code == 0 and out == _plain(repo, head, monkeypatch)[0]


def _spoil(repo: Path, how: str) -> None:
    for path in _cache_dir(repo).glob("*.json"):
        data = json.loads(path.read_text())
        if how == "garbage":
            path.write_text("{not json")
        elif how == "version":
            data["version"] = histcache.VERSION + 1
            path.write_text(json.dumps(data))
        elif how == "commit":
            data["commit"] = "f" * 40
            path.write_text(json.dumps(data))
        elif how == "blob":  # names a blob git does not have: read again from git, so refused
            data["state"]["current"] = {p: "e" * 40 for p in data["state"]["current"]}
            path.write_text(json.dumps(data))
        elif how == "types":
            if "standings" in data:
                data["standings"] = {"x": {"step": "2", "entered_at": None, "entered_commit": None, "cited": {}}}
            else:
                data["items"] = [1, 2]
            path.write_text(json.dumps(data))


@pytest.mark.parametrize("how", ["garbage", "version", "commit", "blob", "types"])
def test_a_spoiled_entry_is_ignored(history: dict[str, Any], monkeypatch: pytest.MonkeyPatch, how: str) -> None:  # noqa: F811
    repo = history["repo"]
    monkeypatch.delenv(histcache.DISABLE_ENV, raising=False)
    order = _first_parent(repo)
    middle = order[len(order) // 2]
    _cached(repo, middle)
    _spoil(repo, how)
    for sha in (middle, order[-1]):  # the exact commit, and one going on from it
        assert _cached(repo, sha) == _plain(repo, sha, monkeypatch)


def test_an_entry_off_the_first_parent_history_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """History rewritten (a reset and new commits): the entry kept for the dropped commit is never an ancestor."""
    from tests.gitrepo import new_repo

    monkeypatch.delenv(histcache.DISABLE_ENV, raising=False)
    repo = new_repo(tmp_path)
    set_state(repo, "allocation_dual_write", "enforce", frm="shadow", evidence=[])
    dropped = commit_all(repo, "promote (to be dropped)", "2026-11-09T10:00:00Z")
    assert _cached(repo, dropped) == _plain(repo, dropped, monkeypatch)
    git(repo, "reset", "-q", "--hard", "HEAD~1")
    set_state(repo, "event_stream_enabled", "shadow", frm="off", evidence=[])
    head = commit_all(repo, "another change", "2026-11-10T10:00:00Z")
    assert _cached(repo, head) == _plain(repo, head, monkeypatch)
    assert (
        timeline.standings_at(repo, head)["allocation_dual_write"].step
        == timeline.standings_at(repo, git(repo, "rev-parse", "HEAD~1").strip())["allocation_dual_write"].step
    )


def test_asking_for_some_flags_only(history: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    """A walk of some flags only (no kept walk) gives each of them the standing the whole walk gives."""
    repo = history["repo"]
    monkeypatch.setenv(histcache.DISABLE_ENV, "1")
    for sha in _first_parent(repo):
        full = timeline.standings(timeline.events_of(repo, sha))
        for name in [*full, "no_such_flag"]:
            some = timeline.standings_at(repo, sha, frozenset({name}))
            assert (vars(some[name]) if name in some else None) == (vars(full[name]) if name in full else None), (sha, name)


def test_a_name_spelled_with_an_escape_is_still_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The blobs skipped are only those that cannot name the flag: a YAML escape can spell a name without its bytes."""
    from tests.gitrepo import new_repo

    monkeypatch.setenv(histcache.DISABLE_ENV, "1")
    repo = new_repo(tmp_path)
    git(repo, "mv", "flags/outbox_enabled.yaml", "flags/escaped.yaml")
    path = repo / "flags/escaped.yaml"
    path.write_text(path.read_text().replace("name: outbox_enabled", 'name: "outbox\\x5fenabled"'))
    commit_all(repo, "rename, name escaped", "2026-11-05T09:00:00Z")
    set_state(repo, "escaped", "on", frm="off", evidence=[])
    head = commit_all(repo, "outbox on", "2026-11-06T09:00:00Z")
    full = timeline.standings(timeline.events_of(repo, head))
    assert full["outbox_enabled"].entered_at is not None and full["outbox_enabled"].step == 1
    assert vars(timeline.standings_at(repo, head, frozenset({"outbox_enabled"}))["outbox_enabled"]) == vars(full["outbox_enabled"])


def test_a_walk_of_some_flags_is_kept_for_those_flags(history: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    """Kept for the same flags only: exact, going on commit after commit, and never taken for a whole walk."""
    repo = history["repo"]
    monkeypatch.delenv(histcache.DISABLE_ENV, raising=False)
    names = frozenset({"allocation_dual_write", "outbox_enabled"})
    for sha in _first_parent(repo):
        full = _plain(repo, sha, monkeypatch)[1]
        for _ in range(2):  # walked (going on from the one before), then kept
            some = {k: vars(v) for k, v in timeline.standings_at(repo, sha, names).items()}
            assert {k: some[k] for k in names if k in full} == {k: full[k] for k in names if k in full}, sha
    assert all("-" in p.stem.removeprefix("standings-") for p in _cache_dir(repo).glob("standings-*.json"))
    head = _first_parent(repo)[-1]
    assert {k: vars(v) for k, v in timeline.standings_at(repo, head).items()} == _plain(repo, head, monkeypatch)[1]


def test_a_skipped_blob_that_later_replaces_an_asked_flag_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A blob searched and skipped once is read again from git where it replaces a flag asked about."""
    from tests.gitrepo import new_repo

    monkeypatch.setenv(histcache.DISABLE_ENV, "1")
    repo = new_repo(tmp_path)  # flags/event_stream_enabled.yaml's blob was skipped for outbox_enabled
    other = (repo / "flags/event_stream_enabled.yaml").read_bytes()
    (repo / "flags/event_stream_enabled.yaml").unlink()
    (repo / "flags/outbox_enabled.yaml").write_bytes(other)  # the same blob now replaces outbox_enabled
    head = commit_all(repo, "outbox file holds another flag", "2026-11-05T09:00:00Z")
    full = timeline.standings(timeline.events_of(repo, head))
    assert "outbox_enabled" not in full and "event_stream_enabled" in full
    assert "outbox_enabled" not in timeline.standings_at(repo, head, frozenset({"outbox_enabled"}))


def test_nothing_is_kept_or_read_in_github_actions(history: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    """A job starts from a fresh checkout: a kept walk there was restored from a cache another job may have written (attack)."""
    monkeypatch.delenv(histcache.DISABLE_ENV, raising=False)  # kept outside CI, whichever way the suite runs
    repo = history["repo"]
    head = git(repo, "rev-parse", "HEAD").strip()
    timeline.standings_at(repo, head)
    assert _cache_dir(repo).exists()  # kept outside CI
    truth = timeline.standings_at(repo, head)
    for kept in _cache_dir(repo).glob("standings-*"):
        data = json.loads(kept.read_text())
        for standing in data["standings"].values():
            standing["entered_at"] = 0  # backdated: a year of soak done
        kept.write_text(json.dumps(data))
    assert timeline.standings_at(repo, head) != truth  # outside CI the poisoned entry would be read
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    assert histcache.open_cache(repo) is None
    assert timeline.standings_at(repo, head) == truth
