"""Benchmark: the OpenFeature provider beside ``FlagClient.is_active``, side by side.

Rows, each for a new representative id per call, medians of ``--repeats``
interleaved rounds of ``--number`` calls, in microseconds per call:

- ``FlagClient.is_active(flag, id)``: the reference;
- ``FlaggateProvider.resolve_boolean_details(flag, False, context)``: what the
  provider adds (target: at most 2 us over the reference);
- ``OpenFeatureClient.get_boolean_value(flag, False, context)``: the whole SDK
  path (hooks, context merging), for information: that cost is the SDK's.

The evaluation contexts are built before timing: a service builds one per
request whichever evaluator it uses.

Usage: python benchmarks/provider.py [--number 100000] [--repeats 7]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from openfeature import api  # noqa: E402
from openfeature.evaluation_context import EvaluationContext  # noqa: E402

from validator.client import FlagClient, canonical_digest  # noqa: E402
from validator.openfeature import FlaggateProvider  # noqa: E402

FLAG = "allocation_read_switch"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--number", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    flags = {FLAG: {"state": "canary", "percentage": 25, "states": ["off", "canary", "full"], "owners": ["o/t"]}}
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
        provider = FlaggateProvider(client)
        api.set_provider_and_wait(provider)
        sdk = api.get_client()
        ids = [f"representative-{i}" for i in range(args.number)]
        contexts = [EvaluationContext(targeting_key=rep) for rep in ids]
        is_active, resolve, sdk_value = client.is_active, provider.resolve_boolean_details, sdk.get_boolean_value

        def reference() -> None:
            for rep in ids:
                is_active(FLAG, rep)

        def ours() -> None:
            for context in contexts:
                resolve(FLAG, False, context)

        def whole() -> None:
            for context in contexts:
                sdk_value(FLAG, False, context)

        runs: dict[str, Callable[[], None]] = {"is_active": reference, "provider": ours, "sdk": whole}
        rounds: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(args.repeats):  # interleaved, so drift of the machine hits every row alike
            for name, fn in runs.items():
                started = time.perf_counter()
                fn()
                rounds[name].append((time.perf_counter() - started) / args.number)
        api.shutdown()
    med = {name: statistics.median(values) * 1e6 for name, values in rounds.items()}
    print(f"{args.number} new ids per round, median of {args.repeats} interleaved rounds\n")
    print("| run | median per call | over is_active |")
    print("|---|---|---|")
    print(f"| FlagClient.is_active(flag, id) (reference) | {med['is_active']:.2f} us | - |")
    print(
        f"| FlaggateProvider.resolve_boolean_details(flag, False, ctx) | {med['provider']:.2f} us | +{med['provider'] - med['is_active']:.2f} us |"
    )
    print(
        f"| OpenFeature client.get_boolean_value(flag, False, ctx) (whole SDK) | {med['sdk']:.2f} us | +{med['sdk'] - med['is_active']:.2f} us |"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
