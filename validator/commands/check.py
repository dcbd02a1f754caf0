"""``flaggate check``: the tree's own findings and, with ``--base``, the change judged."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from validator import term
from validator.commands import root as _root
from validator.errors import FatalError
from validator.report import escape

if TYPE_CHECKING:
    from validator.repo import Entry, Tree


def run(args: argparse.Namespace) -> int:
    from validator import check
    from validator.finding import Finding
    from validator.report import Result, reporter, resolve

    root = _root(args)
    now = args.now or datetime.now(UTC)
    try:
        tree, entries = _tree(root, args)
        result = check.run(root, tree, entries=entries, base=args.base, now=now)
    except FatalError as exc:
        # Cannot decide: still speak the requested format, so CI shows why.
        rule = getattr(exc, "rule", "history")
        if resolve(args.format) != "text":
            print(reporter(args.format)(Result([Finding(".", 1, 1, rule, str(exc))])))
        print(f"flaggate: error: {rule}: {escape(exc)}", file=sys.stderr)
        return 2
    out = reporter(args.format)(result)
    print(term.colour_report(out, term.colour_on()) if resolve(args.format) == "text" else out)
    if args.summary is not None:
        _append(args.summary, reporter("markdown")(result))
    return 0 if result.ok else 1


def _tree(root: Path, args: argparse.Namespace) -> tuple[Tree, list[Entry] | None]:
    """The tree to judge: the working tree (and PATHs given), or with --head a commit's git objects."""
    from validator.repo import WorkTree

    if args.head is None:
        work = WorkTree(root)
        return work, work.entries_for(args.paths) if args.paths else None
    from validator import history  # git only for a commit's objects: the plain check starts no git

    if args.base is None:
        raise FatalError("--head needs --base: it names the commit whose change from the base is judged")
    if args.paths:
        raise FatalError("--head judges a whole commit; PATH arguments are for the working tree")
    return history.GitTree(root, history.resolve(root, args.head)), None


def _append(path: Path, text: str) -> None:
    try:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        raise FatalError(f"cannot write the summary to {path}: {exc.strerror}") from None
