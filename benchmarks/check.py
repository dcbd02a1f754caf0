"""Benchmark: ``flaggate check`` as whole processes, beside its reference runs.

1. This repository (what the pre-commit hook runs on every commit):
   ``python -c pass`` (the interpreter alone), ``flaggate check``, and
   ``check-jsonschema --schemafile schema/flag.schema.json flags/*.yaml`` (schema only).
2. 10,000 generated flag files in one process: ``flaggate check`` against
   ``check-jsonschema`` on the same files (slow: it runs ``--slow-runs`` times).

Usage: python benchmarks/check.py [--runs 20] [--files 10000] [--slow-runs 1]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, median_seconds, table, tool  # noqa: E402
from history import side_by_side  # noqa: E402


def generate(root: Path, count: int) -> list[str]:
    """A flag repository with ``count`` extra flags, copies of active_reconciliation."""
    for name in ("policy.yaml", "resources.yaml"):
        shutil.copy2(REPO / name, root / name)
    shutil.copytree(REPO / "flags", root / "flags")
    shutil.copytree(REPO / "schema", root / "schema")
    template = (REPO / "flags/active_reconciliation.yaml").read_text()
    names = []
    for i in range(count):
        name = f"generated_flag_{i:05d}"
        (root / "flags" / f"{name}.yaml").write_text(template.replace("active_reconciliation", name))
        names.append(f"flags/{name}.yaml")
    return names


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--slow-runs", type=int, default=1, help="runs of check-jsonschema on the generated files")
    args = parser.parse_args()

    flags = sorted(str(p.relative_to(REPO)) for p in (REPO / "flags").glob("*.yaml"))
    schema = ["--schemafile", "schema/flag.schema.json"]
    # Interleaved round by round (A B C A B C ...), so a machine that slows down mid-run slows every row alike.
    interleaved = side_by_side(
        [
            ("python -c pass", [sys.executable, "-c", "pass"], {}, None),
            ("flaggate check", [tool("flaggate"), "check"], {}, None),
            ("check-jsonschema (schema only)", [tool("check-jsonschema"), *schema, *flags], {}, None),
        ],
        REPO,
        args.runs,
    )
    rows = [(name, wall) for name, (wall, _) in interleaved.items()]
    print(f"## This repository ({len(flags)} flag files), median of {args.runs} interleaved runs\n")
    print(table(rows, "flaggate check"))

    if not args.files:
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        files = generate(root, args.files)
        ours = median_seconds([tool("flaggate"), "check"], runs=max(3, args.slow_runs), cwd=root)
        theirs = median_seconds([tool("check-jsonschema"), *schema, *files], runs=args.slow_runs, cwd=root)
        print(f"\n## {args.files} generated flag files (+{len(flags)}), one process each\n")
        print(table([("flaggate check", ours), ("check-jsonschema (schema only)", theirs)], "flaggate check"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
