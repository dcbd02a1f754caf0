"""validator/history.py: resolving a revision, in one git process, in real repositories."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import git, init_git
from validator import history


def _repo(path: Path) -> str:
    path.mkdir(parents=True)
    (path / "a.txt").write_text("a\n")
    return init_git(path)


def test_resolve_answers_the_commit_and_where_flaggate_keeps_its_walks(tmp_path: Path) -> None:
    sha = _repo(tmp_path / "repo")
    assert history.resolve(tmp_path / "repo", "HEAD") == sha
    assert history.git_path(tmp_path / "repo") == ".git/flaggate"


def test_resolve_with_line_breaks_in_the_directories_above(tmp_path: Path) -> None:
    # A worktree's git path is absolute: a line break above it must not be taken for the commit.
    main = tmp_path / "main\nrepo"
    sha = _repo(main)
    work = tmp_path / "work\n0123456789012345678901234567890123456789"
    git(main, "worktree", "add", "-q", "--detach", str(work), "HEAD")
    expected = subprocess.run(["git", "rev-parse", "--git-path", "flaggate"], cwd=work, capture_output=True, text=True, check=True)
    assert history.resolve(work, "HEAD") == sha
    assert history.git_path(work) == expected.stdout.rstrip("\n") and "\n" in history.git_path(work)
    with pytest.raises(history.HistoryError, match="unknown git revision"):
        history.resolve(work, "no-such-branch")


def test_resolve_refuses_what_cannot_be_judged(tmp_path: Path) -> None:
    sha = _repo(tmp_path / "repo")
    with pytest.raises(history.HistoryError, match="not inside a git repository"):
        history.resolve(tmp_path, "HEAD")
    with pytest.raises(history.HistoryError, match="not a git revision"):
        history.resolve(tmp_path / "repo", "--all")
    shallow = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{tmp_path / 'repo'}", str(shallow)], check=True, capture_output=True)
    with pytest.raises(history.HistoryError, match="shallow clone"):
        history.resolve(shallow, "HEAD")
    # Reading one revision's files needs no history.
    assert history.resolve(shallow, "HEAD", whole=False) == sha
