"""Flag names as people type them: the names there are, and the nearest to a typo."""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Container
from pathlib import Path

FLAGS_DIR, FLAG_SUFFIX = "flags", ".yaml"
# The schema's flag name (model.Identifier), which also makes it a plain file name: a name from the
# command line that does not match names no file (``../x`` must not reach outside flags/).
FLAG_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}\Z")


def flag_names(root: Path) -> list[str]:
    """The stems of ``flags/*.yaml`` in the working tree (cheap: no file is parsed)."""
    try:
        names = os.listdir(root / FLAGS_DIR)
    except OSError:
        return []
    return sorted(n[: -len(FLAG_SUFFIX)] for n in names if n.endswith(FLAG_SUFFIX) and not n.startswith("."))


def did_you_mean(name: str, known: list[str]) -> str:
    """`` (did you mean X?)`` for the nearest known name, else the list of names (difflib)."""
    import difflib

    guess = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    if guess:
        return f" (did you mean {guess[0]}?)"
    if known:
        return f"; the flags are: {', '.join(known)}"
    return "; there are no flag files in flags/ yet (create one with `flaggate new NAME`)"


def unknown_flag(root: Path, name: str) -> str:
    return f"no flag {name!r}: no file {FLAGS_DIR}/{name}{FLAG_SUFFIX}{did_you_mean(name, flag_names(root))}"


def name_value(item: str, option: str, example: str, known: Collection[str], seen: Container[str]) -> tuple[str, str]:
    """One ``NAME=VALUE`` option value, NAME among ``known`` and not in ``seen``; FatalError (exit 2) saying what to write."""
    import difflib

    from validator.errors import FatalError

    name, sep, value = item.partition("=")
    if not sep or not name:
        raise FatalError(f"{option} {item!r}: write NAME=VALUE, for example {example}")
    if name not in known:
        guess = difflib.get_close_matches(name.lower(), list(known), n=1, cutoff=0.6)
        hint = f"; did you mean {guess[0]}?" if guess else ""
        raise FatalError(f"{option} {name!r} is not one of: {', '.join(sorted(known))}{hint}")
    if name in seen:
        raise FatalError(f"{option} {name} is given twice")
    return name, value
