"""Benchmark: ``flaggate status`` beside ``flaggate check``, as whole processes, on this repository.

``status`` reads the working tree as ``check`` does, plus the git history of
``flags/`` in one pass (one ``git log``, one ``git cat-file``); its target is
at most 1.2x ``check``.  Run from the repository root:

    .venv/bin/python benchmarks/status.py [--runs 20]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, median_seconds, table, tool  # noqa: E402

TARGET = 1.2


def _cache_path() -> Path:
    sys.path.insert(0, str(REPO))
    from validator.status import CACHE_FILE, _git_dir

    git_dir = _git_dir(REPO)
    if git_dir is None:
        raise SystemExit("run from a git clone of the repository")
    return git_dir / CACHE_FILE


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20, help="runs of each command (median)")
    args = parser.parse_args()
    flaggate = tool("flaggate")
    rows = []
    # Interleaved rounds, so a busy moment of the machine hits both commands alike.
    # The first status after a commit reads the history (one git log, one git cat-file) and keeps it
    # in the git directory by HEAD's sha; later runs on the same HEAD read it back.
    cache = _cache_path()
    cold_command = ["sh", "-c", f'rm -f "{cache}"; exec "{flaggate}" status']
    check_times, status_times, cold_times = [], [], []
    for _ in range(max(1, args.runs // 5)):
        check_times.append(median_seconds([flaggate, "check"], runs=5, cwd=REPO))
        status_times.append(median_seconds([flaggate, "status"], runs=5, cwd=REPO))
        cold_times.append(median_seconds(cold_command, runs=5, cwd=REPO))
    check, status, cold = (sorted(t)[len(t) // 2] for t in (check_times, status_times, cold_times))
    rows = [
        ("python -c pass", median_seconds([sys.executable, "-c", "pass"], runs=args.runs, cwd=REPO)),
        ("flaggate check", check),
        ("flaggate status", status),
        ("flaggate status, history read (first run after a commit; + sh)", cold),
    ]
    print(f"## This repository, median of {args.runs} runs each (interleaved)\n")
    print(table(rows, "flaggate check"))
    ratio = status / check
    print(f"\nstatus / check = {ratio:.2f}x (target at most {TARGET}x): {'ok' if ratio <= TARGET else 'OVER TARGET'}")
    print(f"first status after a commit / check = {cold / check:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
