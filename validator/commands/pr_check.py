"""``flaggate pr-check``: approvals, one summary comment, the flaggate status."""

from __future__ import annotations

import argparse
import os
from datetime import UTC, datetime

from validator.commands import root as _root
from validator.errors import FatalError


def run(args: argparse.Namespace) -> int:
    if args.dry_run and not os.environ.get("GITHUB_TOKEN"):
        from validator import basis, preview  # offline: no PyGithub, no network

        root = _root(args)
        return preview.main(root, basis.choose(root, args.base), args.now or datetime.now(UTC))
    if args.base:
        raise FatalError("--base is for the offline preview (--dry-run without GITHUB_TOKEN); with a token the pull request's base is used")
    from validator import github  # the only module that imports PyGithub

    return github.run(
        _root(args),
        repo=args.repo,
        number=args.pr,
        now=args.now or datetime.now(UTC),
        retries=args.retries,
        timeout=args.timeout,
        throttle=args.throttle,
        dry_run=args.dry_run,
    )
