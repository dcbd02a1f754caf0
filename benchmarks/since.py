"""Benchmark: ``flaggate check`` now beside ``flaggate check`` at an earlier revision.

Installs the earlier revision (``git worktree`` of ``--rev``, then ``pip install``
into a temporary virtual environment, regular installs both, as the figures in
README.md are taken) and runs both side by side, interleaved round by round, on
the same files: the flag files of the earlier revision (which both accept), then
10,000 generated flag files beside them (copies of one flag, as in ``check.py``).  Medians, peak
memory and the ratio of each row to the earlier revision's.

Usage: python benchmarks/since.py [--rev 25f9bfc] [--runs 15] [--files 10000]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO  # noqa: E402
from history import side_by_side, table  # noqa: E402


def generate(root: Path, count: int) -> None:
    """``count`` more flags in ``root``, copies of its active_reconciliation (as ``check.py`` does)."""
    template = (root / "flags/active_reconciliation.yaml").read_text()
    for i in range(count):
        name = f"generated_flag_{i:05d}"
        (root / "flags" / f"{name}.yaml").write_text(template.replace("active_reconciliation", name))


def install(source: Path, venv: Path) -> str:
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(source)], check=True)
    return str(venv / "bin" / "flaggate")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rev", default="25f9bfc", help="the earlier revision (default: before the architecture reshaping)")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--files", type=int, default=10_000, help="generated flag files for the second table (0: skip)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        then_source = tmp / "then"
        subprocess.run(["git", "worktree", "add", "-q", "--detach", str(then_source), args.rev], cwd=REPO, check=True)
        try:
            then = install(then_source, tmp / "venv-then")
            now = install(REPO, tmp / "venv-now")
            files = tmp / "files"
            shutil.copytree(then_source, files, ignore=shutil.ignore_patterns(".git"))
            then_row, now_row = f"flaggate check at {args.rev}", "flaggate check now"
            rows = [(then_row, [then, "check"], {}, None), (now_row, [now, "check"], {}, None)]
            print(f"The flag files of {args.rev} ({len(list((files / 'flags').glob('*.yaml')))}), median of {args.runs} interleaved runs\n")
            print(table(side_by_side(rows, files, args.runs), then_row))
            if args.files:
                generate(files, args.files)
                print(f"\n{args.files:,} generated flag files beside them, median of {max(3, args.runs // 3)} interleaved runs\n")
                print(table(side_by_side(rows, files, max(3, args.runs // 3)), then_row))
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(then_source)], cwd=REPO, check=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
