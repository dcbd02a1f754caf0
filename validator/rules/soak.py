"""soak: a flag stays in a step at least the step's ``soak_days`` before it is promoted out.

Measured from the commit, on REF's first-parent history, that put the flag in
its current step (its commit time) to ``--now``.  The message says how long
remains and from when the promotion can be made.

Passing: ``allocation_dual_write`` entered shadow 8 days ago (soak 7 days).
Failing: it entered shadow 2 days ago ("5 days remain").
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from validator import clock

if TYPE_CHECKING:
    from validator.finding import Finding
    from validator.gate import Move
    from validator.repo import FlagFile

RULE = "soak"


def ready_at(entered_at: datetime, soak_days: int) -> datetime:
    """When the soak is done; the last representable moment when that is later (a commit dated near year 9999)."""
    try:
        return entered_at + timedelta(days=soak_days)
    except OverflowError:
        return datetime.max.replace(tzinfo=entered_at.tzinfo)


def remaining(entered_at: datetime, soak_days: int, now: datetime) -> timedelta:
    return ready_at(entered_at, soak_days) - now


def human(delta: timedelta) -> str:
    seconds = max(int(delta.total_seconds()), 0)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [f"{days} day{'s' if days != 1 else ''}"] if days else []
    if hours:
        parts.append(f"{hours} hour{'s' if hours != 1 else ''}")
    if not days and minutes:
        parts.append(f"{minutes} minute{'s' if minutes != 1 else ''}")
    return " ".join(parts) or "less than a minute"


def check(move: Move, head: FlagFile, soak_days: int, now: datetime) -> list[Finding]:
    """The flag has spent ``soak_days`` in the step it leaves, by the base's history (``move.entered_at``)."""
    if not soak_days:
        return []
    if move.entered_at is None:
        return [head.finding(("state",), RULE, f"cannot tell from the history of the base when {move.flag} entered {move.before}")]
    left = remaining(move.entered_at, soak_days, now)
    if left.total_seconds() <= 0:
        return []
    ready = ready_at(move.entered_at, soak_days)
    commit = move.entered_commit[:12] if move.entered_commit else "?"
    return [
        head.finding(
            ("state",),
            RULE,
            f"{move.flag} entered {move.before} at {clock.iso(move.entered_at)} (commit {commit}); "
            f"the plan soaks {soak_days} day{'s' if soak_days != 1 else ''} there: {human(left)} remain (promote after {clock.iso(ready)})",
        )
    ]
