"""soak: a flag stays in a step at least the step's ``soak_days`` before it is promoted out.

Measured from the commit, on REF's first-parent history, that put the flag in
its current step (its commit time) to ``--now``.  The message says how long
remains and from when the promotion can be made.

Passing: ``allocation_dual_write`` entered shadow 8 days ago (soak 7 days).
Failing: it entered shadow 2 days ago ("5 days remain").
"""

from __future__ import annotations

from datetime import datetime, timedelta

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
