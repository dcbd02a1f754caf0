"""history: the git history the gate and the audit log need can be read (exit 2 if not).

An unknown base revision, a shallow clone (fetch the full history:
``actions/checkout`` with ``fetch-depth: 0``), or flag files at the base that
cannot be read are reported as such, never as "a new flag" (which would let a
flag jump straight to its last state).  Exit code 2: the tool cannot decide.

Passing: a full clone with the base revision fetched.
Failing: ``git clone --depth 1`` ("this is a shallow clone ...").
"""

from __future__ import annotations

RULE = "history"
