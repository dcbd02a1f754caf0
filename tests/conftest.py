from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

# Some machines (this one, and CI's) set PYTHONDONTWRITEBYTECODE.  Then every xdist worker rewrote
# and compiled all the test modules again (about 1.5 s each) and every flaggate child compiled the
# package from source (about 40 ms each).  The suite lets Python keep bytecode beside the sources as
# it does by default (``__pycache__`` is ignored by git); what is installed is compiled already.
if sys.dont_write_bytecode and os.environ.pop("PYTHONDONTWRITEBYTECODE", None) is not None:
    sys.dont_write_bytecode = False

import pytest
from hypothesis import HealthCheck, settings

from validator.cli import main

# Property-based tests: ``ci`` is the default, seeded (the same examples every
# run) and bounded (1,000 examples per property, about 20 s of one core); ``long`` is for a run by hand:
#   HYPOTHESIS_PROFILE=long .venv/bin/python -m pytest tests/test_properties.py
_PROPERTY = {"deadline": None, "print_blob": True, "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large]}
settings.register_profile(
    "ci", max_examples=int(os.environ.get("HYPOTHESIS_EXAMPLES", "1000")), derandomize=True, database=None, **_PROPERTY
)
settings.register_profile("long", max_examples=int(os.environ.get("HYPOTHESIS_EXAMPLES", "20000")), **_PROPERTY)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The heaviest tests first, longest first; the rest in their files' order.

    With ``--dist loadgroup --no-loadscope-reorder`` (pyproject.toml) a worker is handed the next
    test whenever it runs short, so the long ones start at once on every core and the short ones
    fill in around them: no worker is left running a 10-second test alone at the end.
    ``heavy(seconds)`` is what the test takes on a quiet 2-core machine; a stale figure only
    costs balance, never a result.
    """

    def weight(item: pytest.Item) -> float:
        mark = item.get_closest_marker("heavy")
        return -float(mark.args[0]) if mark is not None else 0.0

    items.sort(key=weight)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: one worker more than there are cores.

    Many tests wait on a child process (git, flaggate, pip, chromium), and a
    worker waiting leaves its core idle; with one more worker both cores stay
    busy (the whole suite on 2 cores: 62 s with 2 workers, 47-53 s with 3,
    57 s with 4).  ``PYTEST_XDIST_AUTO_NUM_WORKERS`` still decides when set.
    """
    chosen = os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS")
    if chosen:
        return int(chosen)
    return (os.cpu_count() or 1) + 1


REPO = Path(__file__).resolve().parents[1]
REPO_FILES = ("policy.yaml", "resources.yaml", "flags", "schema", "evidence")


def copy_repo(dest: Path) -> Path:
    """A copy of this repository's flag files (not its git history)."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in REPO_FILES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, dest / name)
        elif source.exists():
            shutil.copy2(source, dest / name)
    return dest


@pytest.fixture
def flag_repo(tmp_path: Path) -> Path:
    return copy_repo(tmp_path / "repo")


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def run_json(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    code, out, err = run([*argv, "--format", "json"], capsys)
    assert "Traceback" not in err
    return code, json.loads(out)


GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Committer",
    "GIT_COMMITTER_EMAIL": "committer@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
}


def git(repo: Path, *args: str, date: str | None = None, env: dict[str, str] | None = None) -> str:
    """Run real git in ``repo``; ``date`` sets both author and committer dates."""
    full_env = {**os.environ, **GIT_ENV, **(env or {})}
    if date is not None:
        full_env["GIT_AUTHOR_DATE"] = date
        full_env["GIT_COMMITTER_DATE"] = date
    result = subprocess.run(["git", *args], cwd=repo, env=full_env, capture_output=True, text=True, check=True)
    return result.stdout


def init_git(repo: Path, date: str = "2026-11-01T00:00:00Z", message: str = "initial") -> str:
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message, date=date)
    return git(repo, "rev-parse", "HEAD").strip()


def commit_all(repo: Path, message: str, date: str, env: dict[str, str] | None = None) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", message, date=date, env=env)
    return git(repo, "rev-parse", "HEAD").strip()


def set_top(path: Path, key: str, value: str | None) -> None:
    """Set (or with None remove) a top-level ``key: value`` line of a flag file, keeping the rest."""
    import re

    text = path.read_text()
    pattern = re.compile(rf"^{re.escape(key)}:.*\n", re.M)
    if value is None:
        text = pattern.sub("", text, count=1)
    elif pattern.search(text):
        text = pattern.sub(f"{key}: {value}\n", text, count=1)
    else:
        text = re.sub(r"^state:.*\n", lambda m: m.group(0) + f"{key}: {value}\n", text, count=1, flags=re.M)
    path.write_text(text)


def set_transition(path: Path, block: str) -> None:
    """Replace the transition block (the file's last top-level key) with ``block``."""
    text = path.read_text()
    head = text[: text.index("\ntransition:") + 1]
    path.write_text(head + block)


def read_terminal(master: int) -> bytes:
    """Everything written to a pseudo-terminal until its other end closes (EIO ends it on Linux)."""
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks)
