"""``flaggate status``: every flag at a glance."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from validator import term
from validator.commands import root


def run(args: argparse.Namespace) -> int:
    from validator import status

    return status.main(root(args), fmt=args.format, base=args.base, now=args.now or datetime.now(UTC), colour=term.colour_on())
