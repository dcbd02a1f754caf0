"""``flaggate audit-log``: every change of every flag, from git history."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from validator import term
from validator.commands import root as _root


def run(args: argparse.Namespace) -> int:
    from validator import audit, publish

    root = _root(args)
    with term.progress(f"flaggate audit-log: reading the history of {args.rev}"):
        rendered = audit.rendered(root, args.rev)
    if args.out is None:
        sys.stdout.writelines(audit.pieces(rendered))  # the same bytes as ``audit.text``, never held at once
    else:
        publish.write(args.out.parent if str(args.out.parent) else Path("."), {args.out.name: audit.render(rendered)})
    return 0
