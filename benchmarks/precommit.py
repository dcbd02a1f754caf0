"""Benchmark: ``pre-commit run --all-files`` on this repository beside one ``flaggate check``.

The repository's hooks (``.pre-commit-config.yaml``) run flaggate once
(``flaggate hooks``: check, schema --check and codeowners --check in one
process) and ruff twice (mypy runs on push, not here).  A third row runs
pre-commit with no hooks at all: what pre-commit itself costs.  Timed as whole processes in a clone of the
working tree, interleaved round by round, medians.

Usage: python benchmarks/precommit.py [--runs 10]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, tool  # noqa: E402
from history import side_by_side, table  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    flaggate = tool("flaggate")
    bindir = str(Path(flaggate).parent)
    os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")  # as in an activated virtual environment
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("PRE_COMMIT_HOME", str(Path(tmp) / "pre-commit-home"))
        clone = Path(tmp) / "clone"
        subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
        for name in (".pre-commit-config.yaml", ".pre-commit-hooks.yaml", "pyproject.toml", "policy.yaml", "resources.yaml"):
            shutil.copy2(REPO / name, clone / name)
        for name in ("flags", "schema", "validator", "tests", ".github", "benchmarks"):
            shutil.rmtree(clone / name, ignore_errors=True)
            shutil.copytree(REPO / name, clone / name, ignore=shutil.ignore_patterns("__pycache__", ".venv"))
        subprocess.run(["git", "add", "-A"], cwd=clone, check=True)
        subprocess.run(["git", "commit", "-qm", "working tree", "--allow-empty"], cwd=clone, check=True)
        no_hooks = Path(tmp) / "no-hooks.yaml"
        no_hooks.write_text("repos: []\n")
        rows = [
            ("flaggate check", [flaggate, "check"], {}, None),
            ("pre-commit run --all-files", [tool("pre-commit"), "run", "--all-files"], {}, None),
            # What pre-commit costs before any hook runs: the floor under the row above.
            (
                "pre-commit run --all-files, no hooks (pre-commit alone)",
                [tool("pre-commit"), "run", "--all-files", "-c", str(no_hooks)],
                {},
                None,
            ),
        ]
        print(f"pre-commit on this repository, median of {args.runs} interleaved runs\n")
        print(table(side_by_side(rows, clone, args.runs), "flaggate check"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
