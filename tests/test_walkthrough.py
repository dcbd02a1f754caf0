"""The README walkthrough, run verbatim: every shell block, in order, in a fresh clone."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import GIT_ENV, REPO

START, END = "<!-- walkthrough:start -->", "<!-- walkthrough:end -->"


def walkthrough_blocks() -> list[str]:
    readme = (REPO / "README.md").read_text()
    if START not in readme or END not in readme:
        raise AssertionError("README.md has no walkthrough section (markers missing)")
    section = readme[readme.index(START) : readme.index(END)]
    return re.findall(r"```sh\n(.*?)```", section, re.S)


def test_walkthrough_has_blocks_and_no_bare_commands_before_activation() -> None:
    blocks = walkthrough_blocks()
    assert len(blocks) >= 4
    assert blocks[0].splitlines()[0] == ". .venv/bin/activate"


@pytest.mark.heavy(6)
def test_readme_walkthrough_runs_in_a_fresh_clone(tmp_path: Path) -> None:
    venv = Path(sys.prefix)
    if not (venv / "bin" / "flaggate").exists():
        pytest.skip("run the tests from the README's virtual environment (.venv/bin/python -m pytest)")
    env = {**os.environ, **GIT_ENV}
    env.pop("VIRTUAL_ENV", None)
    clone = tmp_path / "flaggate"
    subprocess.run(["git", "clone", "-q", "--no-local", str(REPO), str(clone)], check=True, env=env, capture_output=True)
    # The walkthrough starts where the README's set-up left a user: on main, with .venv installed.
    subprocess.run(["git", "switch", "-q", "-C", "main"], cwd=clone, check=True, env=env, capture_output=True)
    (clone / ".venv").symlink_to(venv)
    script = "set -euo pipefail\n" + "\n".join(walkthrough_blocks())
    proc = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], cwd=clone, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"walkthrough failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    out = proc.stdout
    assert "created flags/partial_allocation_ui.yaml" in out
    assert "Offline preview (not posted)" in out
    assert "ready: flaggate promote partial_allocation_ui" in out and "--evidence rr-0001 rr-0002 rr-0003" in out
    assert "partial_allocation_ui: promote: canary 5% -> canary 25%" in out
    assert re.search(r"^partial_allocation_ui +canary 25% +off > canary 5% > \[canary 25%\] > full$", out, re.M)
