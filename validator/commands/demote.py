"""``flaggate demote``: an emergency step back (with its cascade), judged before writing."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from validator import term
from validator.commands import root as _root
from validator.errors import FatalError


def run(args: argparse.Namespace) -> int:
    """The emergency demote: reason checked first, the cascade printed, the whole change judged, then written."""
    from validator import basis, edit, emergency, reasons, rollback
    from validator.report import text

    root = _root(args)
    now = args.now or datetime.now(UTC)
    base = basis.choose(root, args.base)
    problem = reasons.problem(args.reason, reasons.at(root, base))
    if problem is not None:
        raise FatalError(problem)
    snapshot = emergency.parse_metrics([item for group in args.metrics for item in group])
    if args.samples is not None:
        from validator.repo import read_flag

        file = read_flag(root, args.flag)
        if not (file.flag is not None):
            raise ValueError("expected a read flag file here: cli.py was called out of order")
        seen = rollback.worst_of(file.flag, rollback.read_samples(args.samples))
        snapshot = {**seen, **snapshot}  # a value typed on the command line wins
    try:
        change = emergency.prepare(
            root, args.flag, reason=args.reason, justification=args.justification, snapshot=snapshot, to=args.to, base=base, now=now
        )
    except edit.NoMove as refused:
        print(f"flags/{args.flag}.yaml:1:1: transition: {refused}")
        print("flaggate: demote refused: nothing written", file=sys.stderr)
        return 1
    print("\n".join(change.lines(args.reason)))
    if args.dry_run:
        for one in change.changes:
            print(edit.diff(one), end="")
    if not change.result.ok:
        print(term.colour_report(text(change.result), term.colour_on()))
        print("flaggate: demote refused: nothing written", file=sys.stderr)
        return 1
    if not args.dry_run:
        edit.write_all(root, change.changes)
        paths = " ".join(c.path for c in change.changes)
        print(f"wrote {paths}; commit {'them' if len(change.changes) > 1 else 'it'} and open a pull request")
    return 0
