"""A stand-in for your reconciliation job, for the README walkthrough.

Writes ``evidence/<flag>/rr-NNNN.json`` runs the way a nightly reconciliation
job would: the flag's current state (and canary percentage), the next
sequence numbers, a start and a finish time of now, and the raw totals the
validator recomputes the metrics from (here the ledger agrees with the
legacy path to the cent, so drift is 0 ppm).

Usage: python examples/reconcile.py FLAG [--runs 3] [--ledger-total 1250000.00] [--legacy-total 1250000.00]
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from validator.repo import find_root, read_flag


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("flag", help="the flag the runs reconcile")
    parser.add_argument("--runs", type=int, default=3, help="how many runs to write (default 3)")
    parser.add_argument("--ledger-total", default="1250000.00", help="the new ledger's total, a decimal string")
    parser.add_argument("--legacy-total", default="1250000.00", help="the legacy path's total, a decimal string")
    args = parser.parse_args()

    root = find_root(Path.cwd())
    flag = read_flag(root, args.flag).flag
    if flag is None:  # read_flag raises for an unreadable file; kept for type checkers
        return 2
    directory = root / "evidence" / args.flag
    directory.mkdir(parents=True, exist_ok=True)
    seqs = [json.loads(p.read_text()).get("seq", 0) for p in directory.glob("*.json")]
    seq = max(seqs, default=0)
    entered = _entered(root, args.flag)
    for _ in range(args.runs):
        seq += 1
        # A run counts only if it started after the flag entered its step: in this quick walkthrough
        # the step was entered seconds ago, so wait until a run can honestly have started after it.
        if entered is not None:
            while datetime.now(UTC) < entered + timedelta(seconds=2):
                time.sleep(0.2)
        finished = datetime.now(UTC)
        started = finished - timedelta(minutes=12)
        if entered is not None and started <= entered:
            started = entered + timedelta(seconds=1)
        run = {
            "run_id": f"rr-{seq:04d}",
            "flag": args.flag,
            "seq": seq,
            "flag_state": flag.state,
            "status": "green",
            "started_at": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "finished_at": finished.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "inputs": {"ledger_total": args.ledger_total, "legacy_total": args.legacy_total},
        }
        if flag.percentage is not None:
            run["flag_percentage"] = flag.percentage
        path = directory / f"rr-{seq:04d}.json"
        path.write_text(json.dumps(run, indent=2) + "\n")
        print(f"wrote {path.relative_to(root)}")
    return 0


def _entered(root: Path, flag: str) -> datetime | None:
    """When the flag entered its current step, from the git history (as the gate reads it)."""
    from validator import history, timeline

    try:
        standing = timeline.standings(timeline.events(root, "HEAD")).get(flag)
    except history.HistoryError:
        return None
    return standing.entered_at if standing is not None else None


if __name__ == "__main__":
    raise SystemExit(main())
