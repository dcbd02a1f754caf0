"""Benchmark: ``flaggate audit-log`` on a generated history of state-changing commits.

Generates (with ``git fast-import``, in seconds) a repository whose every
commit changes one flag's state: promotions cite three evidence runs added in
the same commit, demotes carry a reason code.  Then times, as whole processes:

* ``git log --first-parent -p --no-renames -- flags``: the floor (git alone, every diff of
  the flags), and beside it the same over the whole tree (evidence included);
* ``flaggate audit-log`` read from git alone (``FLAGGATE_NO_CACHE=1``) and with the log kept.

Usage: python benchmarks/audit_log.py [--commits 10000] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, median_seconds, table, tool  # noqa: E402

CYCLE = [  # (flag, from, to, kind)
    ("allocation_dual_write", "shadow", "enforce", "promote"),
    ("event_stream_enabled", "off", "shadow", "promote"),
    ("allocation_dual_write", "enforce", "shadow", "demote"),
    ("event_stream_enabled", "shadow", "full", "promote"),
    ("event_stream_enabled", "full", "shadow", "demote"),
    ("event_stream_enabled", "shadow", "off", "disable"),
]


def _blob(text: str) -> bytes:
    data = text.encode()
    return b"data %d\n" % len(data) + data + b"\n"


def _flag_text(template: str, state: str, block: str) -> str:
    head = template[: template.index("\ntransition:") + 1]
    lines = [line if not line.startswith("state:") else f"state: {state}" for line in head.split("\n")]
    return "\n".join(lines) + block


def generate(path: Path, commits: int) -> None:
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    templates = {name: (REPO / "flags" / f"{name}.yaml").read_text() for name in ("allocation_dual_write", "event_stream_enabled")}
    stream = bytearray()
    base_time = 1_700_000_000
    root_files = ["policy.yaml", "resources.yaml", *(f"flags/{p.name}" for p in sorted((REPO / "flags").glob("*.yaml")))]
    stream += b"commit refs/heads/main\nmark :1\ncommitter Bench <bench@example.com> %d +0000\n" % base_time
    stream += _blob("initial flags")
    for name in root_files:
        stream += f"M 100644 inline {name}\n".encode() + _blob((REPO / name).read_text())
    seq = 0
    for i in range(commits):
        flag, frm, to, kind = CYCLE[i % len(CYCLE)]
        files: dict[str, str] = {}
        if kind == "promote" and frm != "off":
            ids = []
            for _ in range(3):
                seq += 1
                run_id = f"rr-{seq:06d}"
                ids.append(run_id)
                files[f"evidence/{flag}/{run_id}.json"] = json.dumps(
                    {
                        "run_id": run_id,
                        "flag": flag,
                        "seq": seq,
                        "flag_state": frm,
                        "status": "green",
                        "started_at": "2026-11-20T01:00:00Z",
                        "finished_at": "2026-11-20T01:12:00Z",
                        "inputs": {
                            "ledger_total": "1250000.00",
                            "legacy_total": "1250000.00",
                            "failed_ledger_writes": 0,
                            "total_ledger_writes": 120000,
                            "debt_replay": "99.99",
                            "debt_ground": "100.00",
                        },
                    },
                    indent=1,
                )
            extra = f"  evidence: [{', '.join(ids)}]\n"
        elif kind == "promote":
            extra = "  evidence: []\n"
        else:
            extra = "  reason_code: OPERATOR_DECISION\n"
        block = f'transition:\n  from: {frm}\n  to: {to}\n  justification: "benchmark change {i}"\n{extra}'
        files[f"flags/{flag}.yaml"] = _flag_text(templates[flag], to, block)
        stream += b"commit refs/heads/main\nmark :%d\n" % (i + 2)
        stream += b"author Dev %d <dev%d@example.com> %d +0000\n" % (i % 7, i % 7, base_time + 60 * (i + 1))
        stream += b"committer Dev %d <dev%d@example.com> %d +0000\n" % (i % 7, i % 7, base_time + 60 * (i + 1))
        stream += _blob(f"{kind} {flag}: {frm} -> {to}")
        stream += b"from :%d\n" % (i + 1)
        for name, text in files.items():
            stream += f"M 100644 inline {name}\n".encode() + _blob(text)
    subprocess.run(["git", "fast-import", "--quiet"], cwd=path, input=bytes(stream), check=True)
    subprocess.run(["git", "checkout", "-q", "main"], cwd=path, check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--commits", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "history"
        generate(repo, args.commits)
        entries = subprocess.run([tool("flaggate"), "audit-log"], cwd=repo, capture_output=True, text=True, check=True).stdout
        count = len(json.loads(entries))
        floor_name = "git log --first-parent -p --no-renames -- flags (floor)"
        floor = median_seconds(["git", "log", "--first-parent", "-p", "--no-renames", "--", "flags"], cwd=repo, runs=args.runs)
        whole = median_seconds(["git", "log", "--first-parent", "-p", "--no-renames"], cwd=repo, runs=args.runs)
        cold = median_seconds([tool("flaggate"), "audit-log"], cwd=repo, runs=args.runs, env={"FLAGGATE_NO_CACHE": "1"})
        ours = median_seconds([tool("flaggate"), "audit-log"], cwd=repo, runs=args.runs)
        print(f"{args.commits} state-changing commits, {count} audit entries, median of {args.runs} runs\n")
        rows = [
            (floor_name, floor),
            ("git log --first-parent -p --no-renames (evidence included)", whole),
            ("flaggate audit-log, history read from git alone (FLAGGATE_NO_CACHE=1)", cold),
            ("flaggate audit-log, log kept for this commit", ours),
        ]
        print(table(rows, floor_name))
        print("\nSee history.py for the side-by-side run at 10,000 and 50,000 commits, with memory.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
