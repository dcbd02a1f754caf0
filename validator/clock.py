"""Times as people and files write them: ISO 8601, UTC, with ``Z``."""

from __future__ import annotations

from datetime import UTC, datetime


def parse(text: str) -> datetime | None:
    """An ISO 8601 time with a zone, as UTC; None when it is not one.

    A time without a zone is ambiguous; one whose UTC equivalent falls outside
    years 1-9999 (``9999-12-31T23:59:59-23:00``) cannot be compared with
    anything.  Both are None, so every caller reports them as its own finding.
    """
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if value.tzinfo is None:
        return None
    try:
        return value.astimezone(UTC)
    except OverflowError:
        return None


def iso(moment: datetime | int) -> str:
    """``2026-11-20T01:12:00Z`` for a datetime or for seconds since the epoch."""
    if isinstance(moment, int):
        moment = datetime.fromtimestamp(moment, UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
