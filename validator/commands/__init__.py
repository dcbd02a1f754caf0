"""One module per command: ``run(args) -> int``.  ``validator/cli.py`` only parses and dispatches.

A command's module is imported only when that command runs, so that
``flaggate check`` (the pre-commit hook) never pays for PyGithub.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from validator.errors import FatalError


def root(args: argparse.Namespace) -> Path:
    """The flag repository: --root, else the nearest directory holding policy.yaml."""
    from validator.repo import find_root

    if args.root is not None:
        path = Path(args.root)
        if not (path / "policy.yaml").is_file():
            raise FatalError(f"{path} holds no policy.yaml: not a flaggate repository")
        return path.resolve()
    return find_root(Path.cwd())
