from __future__ import annotations


class FatalError(RuntimeError):
    """The tool cannot decide: usage, environment or infrastructure (exit 2).

    Findings about the user's files are never raised; they are collected.
    This is for the cases where checking cannot go on at all.
    """
