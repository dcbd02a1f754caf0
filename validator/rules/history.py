"""history: the git history the gate and the audit log need can be read (exit 2 if not).

An unknown base revision, a shallow clone (fetch the full history:
``actions/checkout`` with ``fetch-depth: 0``), or flag files at the base that
cannot be read are reported as such, never as "a new flag" (which would let a
flag jump straight to its last state).  Exit code 2: the tool cannot decide.

A history that can be read but does not agree with the base's files is a
finding (exit 1) on the move that would rely on it: when files naming a flag
came and went outside any pull request, the history's step for it may not be
the step its file is at; a promotion that needs when the flag entered its step
or what it cited, or any move between equal steps (the backfill's first and
last off), is refused until a demote restarts the flag's record.

Passing: a full clone with the base revision fetched.
Failing: ``git clone --depth 1`` ("this is a shallow clone ...").
"""

from __future__ import annotations

RULE = "history"
