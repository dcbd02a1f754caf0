"""``flaggate new``: scaffold a flag that passes check."""

from __future__ import annotations

import argparse

from validator.commands import root


def run(args: argparse.Namespace) -> int:
    from validator import scaffold

    return scaffold.main(root(args), args)
