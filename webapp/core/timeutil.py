"""Times are stored as naive UTC datetimes and shown in the practice's time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def today_in(timezone: str) -> date:
    return datetime.now(ZoneInfo(timezone)).date()


def local(moment: datetime | None, timezone: str) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC).astimezone(ZoneInfo(timezone))
