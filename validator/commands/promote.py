"""``flaggate promote``: one step forward, the transition block written, judged before writing."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from validator import term
from validator.commands import root as _root


def run(args: argparse.Namespace) -> int:
    from validator import basis, edit
    from validator.report import text

    root = _root(args)
    now = args.now or datetime.now(UTC)
    try:
        change = edit.prepare(
            root,
            args.flag,
            args.command,
            justification=args.justification,
            evidence=getattr(args, "evidence", []),
            reason=getattr(args, "reason", None),
        )
    except edit.NoMove as refused:
        print(f"flags/{args.flag}.yaml:1:1: transition: {refused}")
        print(f"flaggate: {args.command} refused: nothing written", file=sys.stderr)
        return 1
    result = edit.judge(root, change, now, basis.choose(root, args.base))
    if args.dry_run:
        print(edit.diff(change), end="")
    if not result.ok:
        print(term.colour_report(text(result), term.colour_on()))
        print(f"flaggate: {args.command} refused: nothing written", file=sys.stderr)
        return 1
    if not args.dry_run:
        edit.write_atomically(root / change.path, change.new_text.encode("utf-8"))
        what = " (the step back to the plan's first step is a disable)" if change.kind != args.command else ""
        print(
            f"{change.kind}: {change.flag}: {change.before} -> {change.after}{what} (wrote {change.path}; commit it and open a pull request)"
        )
    return 0
