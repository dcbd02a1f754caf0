"""Shared helpers for the benchmark scripts: whole-process timings, medians, ratios."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def tool(name: str) -> str:
    """A console script installed beside this interpreter (the venv's), else on PATH."""
    beside = Path(sys.executable).with_name(name)
    if beside.exists():
        return str(beside)
    readme_venv = REPO / ".venv" / "bin" / name  # where the README's set-up installs it
    if readme_venv.exists():
        return str(readme_venv)
    found = shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} is not installed: run the README's set-up (.venv), then .venv/bin/python {sys.argv[0]}")
    return found


def median_seconds(command: list[str], *, runs: int, cwd: Path | None = None, env: dict[str, str] | None = None) -> float:
    """Median wall time of ``runs`` whole-process runs (after one warm-up run)."""
    full_env = {**os.environ, **(env or {})}
    subprocess.run(command, cwd=cwd, env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, cwd=cwd, env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def table(rows: list[tuple[str, float]], reference: str) -> str:
    """Markdown rows: what, median, ratio to the reference row."""
    ref = dict(rows)[reference]
    lines = ["| run | median | ratio to " + reference + " |", "|---|---|---|"]
    for name, seconds in rows:
        lines.append(f"| {name} | {seconds * 1000:.1f} ms | {seconds / ref:.2f}x |")
    return "\n".join(lines)
