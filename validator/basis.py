"""Which revision a local change is judged against when no ``--base`` is given.

The pull request's base, as well as it can be told locally: the current
branch's upstream (``@{upstream}``) if it has one, else the remote's default
branch (``origin/HEAD``), else ``HEAD`` (only uncommitted changes are judged).
``plan``, ``promote``, ``demote`` and ``status --base`` use it, so what they
say agrees with what ``flaggate check --base`` will say in the pull request.
"""

from __future__ import annotations

from pathlib import Path


def default_base(root: Path) -> str:
    from validator import history

    for candidate in ("@{upstream}", "origin/HEAD"):
        out = history.git(root, "rev-parse", "--verify", "--quiet", "--symbolic-full-name", candidate, check=False).strip()
        if out:
            short = history.git(root, "rev-parse", "--abbrev-ref", candidate, check=False).strip()
            return short or out
    return "HEAD"


def choose(root: Path, base: str | None) -> str:
    return base if base else default_base(root)
