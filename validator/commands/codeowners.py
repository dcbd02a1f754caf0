"""``flaggate codeowners``: write or check .github/CODEOWNERS from the flags' owners."""

from __future__ import annotations

import argparse
import sys

from validator.commands import root as _root


def run(args: argparse.Namespace) -> int:
    from validator import codeowners
    from validator.edit import write_atomically

    root = _root(args)
    if args.check:
        diff = codeowners.check(root)
        if diff:
            print(diff, end="")
            print(f"{codeowners.PATH}: out of date with the flags' owners; run `flaggate codeowners`", file=sys.stderr)
            return 1
        return 0
    target = root / codeowners.PATH
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(target, codeowners.render(root).encode("utf-8"))
    print(f"wrote {codeowners.PATH}")
    return 0
