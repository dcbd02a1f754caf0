"""``flaggate hooks``: check, schema --check and codeowners --check in one process (the pre-commit hook)."""

from __future__ import annotations

import argparse

from validator.commands import root as _root


def run(args: argparse.Namespace) -> int:
    from validator import codeowners
    from validator.cli import main

    root = _root(args)
    common = ["--root", str(root)] + (["--no-color"] if args.no_color else [])
    runs: list[list[str]] = [["check"]]
    if (root / "validator" / "model.py").is_file():  # flaggate's own repository: schema/ is generated there
        runs.append(["schema", "--check"])
    if (root / codeowners.PATH).is_file():  # a repository that keeps no CODEOWNERS is not told to
        runs.append(["codeowners", "--check"])
    codes = [main([*command, *common]) for command in runs]
    return 2 if 2 in codes else max(codes)
