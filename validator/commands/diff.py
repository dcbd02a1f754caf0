"""``flaggate diff``: what changed between two revisions or published configs, as moves."""

from __future__ import annotations

import argparse

from validator.commands import root


def run(args: argparse.Namespace) -> int:
    from validator import diff

    return diff.main(root(args), args.a, args.b, fmt=args.format)
