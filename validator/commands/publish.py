"""``flaggate publish``: the files services read, if every step since the last publish is legal."""

from __future__ import annotations

import argparse
import sys

from validator import term
from validator.commands import root as _root


def run(args: argparse.Namespace) -> int:
    from validator import publish
    from validator.report import Result, text

    root = _root(args)
    try:
        with term.progress(f"flaggate publish: checking {args.rev}, the steps since the last publish, and its history"):
            config, log = publish.build(root, args.rev, since=args.since, published=publish.last_published(args.out))
    except publish.Refused as refused:
        print(text(Result(refused.findings)))
        print(
            f"flaggate: publish refused: {args.rev} (or a step since the last publish) does not pass the gate; nothing written",
            file=sys.stderr,
        )
        return 1
    from validator import exports

    files = {publish.AUDIT_LOG: log, publish.CONFIG: config, **exports.files(root, config, log)}
    publish.write(args.out, files)
    print(f"published {', '.join(str(args.out / name) for name in sorted(files))}")
    return 0
