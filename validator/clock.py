"""Times as people and files write them: ISO 8601, UTC, with ``Z``."""

from __future__ import annotations

from datetime import UTC, datetime


def parse(text: str) -> datetime | None:
    """An ISO 8601 time with a zone, or None (a time without a zone is ambiguous)."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


def iso(moment: datetime | int) -> str:
    """``2026-11-20T01:12:00Z`` for a datetime or for seconds since the epoch."""
    if isinstance(moment, int):
        moment = datetime.fromtimestamp(moment, UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
