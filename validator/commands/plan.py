"""``flaggate plan``: what the next step of a flag needs, and what is still missing."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from validator.commands import root as _root


def run(args: argparse.Namespace) -> int:
    from validator import basis, edit

    root = _root(args)
    report, ready = edit.plan_report(root, args.flag, args.now or datetime.now(UTC), basis.choose(root, args.base))
    print(report)
    return 0 if ready else 1
