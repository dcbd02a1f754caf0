"""Benchmark: one flag evaluation in the service client, beside hashlib.sha256 alone.

An evaluation is ``FlagClient.is_active(flag, id)`` for a new representative
id each time (a state lookup plus the bucketing hash); the floor is
``hashlib.sha256(id.encode()).digest()`` on the same ids.  Medians of
``--repeats`` timing rounds of ``--number`` calls each, in microseconds per call.

Usage: python benchmarks/client.py [--number 200000] [--repeats 7]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from validator.client import FlagClient, canonical_digest  # noqa: E402


def per_call(fn, ids: list[str], repeats: int) -> float:  # type: ignore[no-untyped-def]
    rounds = []
    for _ in range(repeats):
        started = time.perf_counter()
        for rep in ids:
            fn(rep)
        rounds.append((time.perf_counter() - started) / len(ids))
    return statistics.median(rounds)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--number", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    flags = {"allocation_read_switch": {"state": "canary", "percentage": 25, "states": ["off", "canary", "full"], "owners": ["o/t"]}}
    body = {
        "schema_version": 1,
        "source": {"commit": "x", "committed_at": "2026-11-20T00:00:00Z"},
        "digest": canonical_digest(flags),
        "flags": flags,
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.json"
        path.write_text(json.dumps(body))
        client = FlagClient(path)
        ids = [f"representative-{i}" for i in range(args.number)]
        floor = per_call(lambda rep: hashlib.sha256(rep.encode("utf-8")).digest(), ids, args.repeats)
        ours = per_call(lambda rep: client.is_active("allocation_read_switch", rep), ids, args.repeats)
    print(f"{args.number} new ids per round, median of {args.repeats} rounds\n")
    print("| run | median per call | ratio to sha256 alone |")
    print("|---|---|---|")
    print(f"| hashlib.sha256(id).digest() (floor) | {floor * 1e6:.2f} us | 1.00x |")
    print(f"| FlagClient.is_active(flag, id) | {ours * 1e6:.2f} us | {ours / floor:.2f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
