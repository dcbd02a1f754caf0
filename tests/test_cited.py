"""validator.cited: each cited file's object is the one git's own ``<commit>:<path>`` lookup names."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.conftest import commit_all, git, init_git
from validator import cited

FLAG = "allocation_dual_write"
NAMES = ["rr-1.json", "rr-2.json", "rr-2.json.sig", "rr-3.json", "rr-4.json", "rr-5.json", "rr-9.json", "a.json"]


def _git_says(repo: Path, commit: str, name: str) -> str | None:
    out = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", f"{commit}:evidence/{FLAG}/{name}"], cwd=repo, capture_output=True, text=True
    )
    return out.stdout.strip() or None


def _write(repo: Path, name: str, text: str) -> None:
    path = repo / "evidence" / FLAG / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_every_answer_is_what_git_finds_at_that_commit(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "README").write_text("x\n")
    commits = [init_git(repo)]
    _write(repo, "rr-1.json", "{}\n")
    # Names that hold " rr-2.json\0" or " rr-3.json\0" in the raw tree without being those files.
    _write(repo, "x rr-2.json", "not run 2\n")
    _write(repo, "100644 rr-3.json", "not run 3\n")
    commits.append(commit_all(repo, "first runs", "2026-11-02T00:00:00Z"))
    _write(repo, "rr-2.json", '{"run": 2}\n')
    _write(repo, "rr-2.json.sig", "sig\n")
    (repo / "evidence" / FLAG / "rr-4.json").mkdir()
    _write(repo, "rr-4.json/inner", "a directory, not a run\n")
    os.symlink("rr-1.json", repo / "evidence" / FLAG / "rr-5.json")
    commits.append(commit_all(repo, "more runs", "2026-11-03T00:00:00Z"))
    _write(repo, "rr-1.json", '{"changed": true}\n')  # an old run rewritten: a change in the middle of the tree
    (repo / "evidence" / FLAG / "x rr-2.json").unlink()
    _write(repo, "a.json", "first in the tree\n")
    commits.append(commit_all(repo, "rewrite", "2026-11-04T00:00:00Z"))
    (repo / "evidence" / FLAG / "rr-2.json").unlink()
    commits.append(commit_all(repo, "remove run 2", "2026-11-05T00:00:00Z"))
    asks = [(commit, FLAG, [(name, (commit, FLAG, name)) for name in NAMES]) for commit in commits]
    found = cited.locate(repo, asks)
    for commit in commits:
        for name in NAMES:
            assert found.get((commit, FLAG, name)) == _git_says(repo, commit, name), (commit, name)
    assert found[(commits[2], FLAG, "rr-2.json.sig")]  # the files are really found, not only absent
    assert found[(commits[3], FLAG, "rr-1.json")] != found[(commits[2], FLAG, "rr-1.json")]


def test_a_tree_git_would_read_otherwise_is_left_to_git(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "README").write_text("x\n")
    init_git(repo)
    raw = bytes.fromhex(_blob(repo, b"{}\n"))
    # Entries out of git's order: git's lookup stops early, a dictionary would not.
    unsorted = b"100644 rr-2.json\x00" + raw + b"100644 rr-1.json\x00" + raw
    directory = _object(repo, "tree", unsorted)
    evidence = _object(repo, "tree", f"40000 {FLAG}\x00".encode() + bytes.fromhex(directory))
    top = _object(repo, "tree", b"40000 evidence\x00" + bytes.fromhex(evidence))
    commit = git(repo, "commit-tree", top, "-m", "crafted").strip()
    found = cited.locate(repo, [(commit, FLAG, [(name, (commit, FLAG, name)) for name in ("rr-1.json", "rr-2.json")])])
    assert found == {
        (commit, FLAG, "rr-1.json"): f"{commit}:evidence/{FLAG}/rr-1.json",
        (commit, FLAG, "rr-2.json"): f"{commit}:evidence/{FLAG}/rr-2.json",
    }
    # A directory given a file's mode: git's path lookup does not enter it.
    evidence = _object(repo, "tree", f"100644 {FLAG}\x00".encode() + bytes.fromhex(_object(repo, "tree", b"100644 rr-1.json\x00" + raw)))
    top = _object(repo, "tree", b"40000 evidence\x00" + bytes.fromhex(evidence))
    commit = git(repo, "commit-tree", top, "-m", "crafted").strip()
    found = cited.locate(repo, [(commit, FLAG, [("rr-1.json", (commit, FLAG, "rr-1.json"))])])
    assert found == {(commit, FLAG, "rr-1.json"): f"{commit}:evidence/{FLAG}/rr-1.json"}
    assert _git_says(repo, commit, "rr-1.json") is None


def test_no_directory_means_no_runs(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "evidence").mkdir()
    (repo / "evidence" / FLAG).write_text("a file where the directory should be\n")
    commit = init_git(repo)
    asks = [(commit, flag, [("rr-1.json", (commit, flag, "rr-1.json"))]) for flag in (FLAG, "other_flag")]
    assert cited.locate(repo, asks) == {}


def _blob(repo: Path, data: bytes) -> str:
    return _object(repo, "blob", data)


def _object(repo: Path, kind: str, data: bytes) -> str:
    out = subprocess.run(
        ["git", "hash-object", "-w", "--literally", "-t", kind, "--stdin"], cwd=repo, input=data, capture_output=True, check=True
    )
    return out.stdout.decode().strip()
