"""Benchmark: the worst-case evidence and flag files at the size limits, beside a valid file of the same size.

``flaggate check --base`` (what CI and ``pr-check`` run on a pull request) on a
real git repository whose change promotes allocation_dual_write and cites
three runs; the third run file is one of the cases below, each just under
the 1 MiB evidence bound.  Then ``flaggate check`` with one flag file just
under the 256 KiB YAML bound.  Every figure is the median of whole-process
runs; the ratio is against the valid file of the same size.

Usage: python benchmarks/worst_case.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, median_seconds, tool  # noqa: E402

MIB = 1024 * 1024
KIB_256 = 256 * 1024
NOW = "2026-11-20T12:00:00Z"
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "Bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_AUTHOR_DATE": "2026-11-01T00:00:00Z",
    "GIT_COMMITTER_DATE": "2026-11-01T00:00:00Z",
}
HEAD = {
    "run_id": "rr-0103",
    "flag": "allocation_dual_write",
    "seq": 103,
    "flag_state": "shadow",
    "status": "green",
    "started_at": "2026-11-20T01:00:00Z",
    "finished_at": "2026-11-20T01:12:00Z",
}
INPUTS = '"ledger_total": "1250000.00", "legacy_total": "1250000.00", "failed_ledger_writes": 0, "total_ledger_writes": 120000'


def _fill(prefix: str, suffix: str, item: str, separator: str = ",\n", limit: int = MIB - 64) -> str:
    """``prefix`` + as many ``item`` (formatted with its index) as fit under ``limit`` bytes + ``suffix``."""
    parts, size, i = [], len(prefix) + len(suffix), 0
    while True:
        piece = item.format(i=i)
        if size + len(piece) + len(separator) > limit:
            break
        parts.append(piece)
        size += len(piece) + len(separator)
        i += 1
    return prefix + separator.join(parts) + suffix


def _head() -> str:
    return json.dumps(HEAD, indent=2)[:-2] + ",\n"


def evidence_cases() -> dict[str, str]:
    """name -> run file text, each just under 1 MiB."""
    head = _head()
    return {
        "valid: 1 MiB of inputs (reference)": _fill(head + '  "inputs": {' + INPUTS + ",\n", "\n  }\n}\n", '    "extra_count_{i:06d}": 0'),
        "duplicate key on the last line": _fill(
            head + '  "inputs": {' + INPUTS + ",\n", '\n  },\n  "status": "red"\n}\n', '    "extra_count_{i:06d}": 0'
        ),
        "300,000 empty objects, then a duplicate key": _fill(
            head + '  "inputs": {' + INPUTS + ', "x": [', '], "y": {"a": 1, "a": 2}}\n}\n', "{{}}", separator=","
        ),
        "32 levels, 1 MiB inside, duplicate key at the bottom": _fill(
            head + '  "inputs": {' + INPUTS + ', "x": ' + "[" * 30, ',{"a":1,"a":2}' + "]" * 30 + "}\n}\n", "[0]", separator=","
        ),
        "lone surrogate in the last string": _fill(
            head + '  "inputs": {' + INPUTS + ",\n",
            '\n  },\n  "flag_percentage": 1, "x": "\\ud800"\n}\n',
            '    "s{i:06d}": "\\ud83d\\ude00"',
        ),
        "41-character number at the end": _fill(
            head + '  "inputs": {' + INPUTS + ",\n", '\n  },\n  "flag_percentage": ' + "1" * 41 + "\n}\n", '    "n{i:06d}": 1.5e-3'
        ),
        "syntax error at the end": _fill(
            head + '  "inputs": {' + INPUTS + ",\n", '\n  },\n  "status": green\n}\n', '    "extra_count_{i:06d}": 0'
        ),
        "40,000 unknown keys": _fill(
            head + '  "inputs": {' + INPUTS + "},\n", ',\n  "last": 1\n}\n', '  "unknown_{i:06d}": 0', limit=40_000 * 24
        ),
        "nesting 500,000 deep": head + '  "x": ' + "[" * 500_000 + "]" * 20 + "\n}\n",
    }


def flag_cases() -> dict[str, str]:
    """name -> flag file text for allocation_dual_write, each just under 256 KiB."""
    text = (REPO / "flags/allocation_dual_write.yaml").read_text()
    name_line = "name: allocation_dual_write\n"
    return {
        "valid: comments up to 256 KiB (reference)": _fill(text, "\n", "# comment line {i:06d} to fill the file", "\n", KIB_256 - 64),
        "duplicate key on the last line": _fill(
            text, "\nname: allocation_dual_write\n", "# comment line {i:06d} to fill the file", "\n", KIB_256 - 64
        ),
        "5,000 unknown keys (schema findings)": _fill(
            text, "\n", "unknown_key_{i:06d}_with_a_name_long_enough_to_fill_it: 1", "\n", KIB_256 - 64
        ),
        "20,001 nodes": name_line + _fill("x: [", "]\n", "1", ",", KIB_256 - 64),
        "deep flow nesting": text + "x: " + "[" * 100_000 + "\n",
        "lone surrogate escape at the end": _fill(
            text, '\ndescription: "\\ud800"\n', "# comment line {i:06d} to fill the file", "\n", KIB_256 - 64
        ),
    }


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, env={**os.environ, **GIT_ENV}, check=True, capture_output=True)


def evidence_repo(root: Path) -> Path:
    for name in ("policy.yaml", "resources.yaml"):
        shutil.copy2(REPO / name, root / name)
    for name in ("flags", "schema", "evidence"):
        if (REPO / name).exists():
            shutil.copytree(REPO / name, root / name)
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "base")
    runs = root / "evidence" / "allocation_dual_write"
    runs.mkdir(parents=True, exist_ok=True)
    for seq, day in ((101, 18), (102, 19)):
        body = {
            **HEAD,
            "run_id": f"rr-0{seq}",
            "seq": seq,
            "finished_at": f"2026-11-{day}T01:12:00Z",
            "started_at": f"2026-11-{day}T01:00:00Z",
        }
        body["inputs"] = json.loads("{" + INPUTS + "}")
        (runs / f"rr-0{seq}.json").write_text(json.dumps(body, indent=2))
    flag = root / "flags/allocation_dual_write.yaml"
    text = flag.read_text()
    text = text.replace("state: shadow\n", "state: enforce\n", 1)
    text = text[: text.index("\ntransition:") + 1] + (
        "transition:\n  from: shadow\n  to: enforce\n  justification: three green runs\n  evidence: [rr-0101, rr-0102, rr-0103]\n"
    )
    flag.write_text(text)
    return root


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    flaggate = tool("flaggate")

    print(f"## Evidence run files at the 1 MiB bound: flaggate check --base, median of {args.runs} runs\n")
    command = [flaggate, "check", "--base", "HEAD", "--now", NOW, "--format", "json"]
    print(_table(_rows("evidence/allocation_dual_write/rr-0103.json", evidence_cases(), command, args.runs)))
    print(f"\n## Flag files at the 256 KiB bound: flaggate check, median of {args.runs} runs\n")
    print(_table(_rows("flags/allocation_dual_write.yaml", flag_cases(), [flaggate, "check", "--format", "json"], args.runs)))
    return 0


def _rows(target: str, cases: dict[str, str], command: list[str], runs: int) -> list[tuple[str, int, int, float]]:
    """Each case written at ``target`` in a fresh repository: its size, exit code and median time."""
    with tempfile.TemporaryDirectory() as tmp:
        root = evidence_repo(Path(tmp))
        rows = []
        for name, text in cases.items():
            (root / target).write_text(text)
            code = subprocess.run(command, cwd=root, capture_output=True).returncode
            rows.append((name, len(text.encode()), code, median_seconds(command, runs=runs, cwd=root)))
        return rows


def _table(rows: list[tuple[str, int, int, float]]) -> str:
    reference = rows[0][3]
    lines = ["| file | bytes | exit | median | ratio to the valid file |", "|---|---|---|---|---|"]
    for name, size, code, seconds in rows:
        lines.append(f"| {name} | {size:,} | {code} | {seconds:.3f} s | {seconds / reference:.2f}x |")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
