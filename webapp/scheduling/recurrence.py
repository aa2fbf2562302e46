"""Wall-clock times in the practice's time zone, UTC storage, and recurrence rules.

    starts_at = to_utc(datetime(2026, 3, 9, 10, 0), "America/New_York")   # naive UTC
    local_starts = occurrences("FREQ=WEEKLY;INTERVAL=1", first_local, count=12)

A series is generated in local wall-clock time (RFC 5545 semantics, python-dateutil)
and each occurrence converted to UTC on its own, so a weekly 10:00 session stays at
10:00 across the March and November clock changes. A time that does not exist (the
spring-forward hour) or happens twice (the fall-back hour) is refused with a message
rather than guessed.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr

MAX_OCCURRENCES = 52  # one booking or one extension of a series
REPEATS = ("none", "weekly", "every_n_weeks", "monthly")


class InvalidTime(ValueError):
    """A local time the clocks skip or repeat; the message says which and when."""


def describe(moment: datetime) -> str:
    """"Sun Nov 1, 2026 at 1:30 AM": how pages and messages name a local time."""
    return moment.strftime("%a %b %-d, %Y at %-I:%M %p")


def to_utc(local_start: datetime, timezone: str) -> datetime:
    """A naive local wall-clock time as naive UTC; refuses skipped and repeated times."""
    zone = ZoneInfo(timezone)
    earlier = local_start.replace(tzinfo=zone, fold=0)
    later = local_start.replace(tzinfo=zone, fold=1)
    if earlier.utcoffset() != later.utcoffset():
        round_trip = earlier.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
        if round_trip != local_start:
            raise InvalidTime(
                f"{describe(local_start)} does not exist: the clocks go forward an hour "
                "then. Choose another time.")
        raise InvalidTime(
            f"{describe(local_start)} happens twice: the clocks go back an hour then. "
            "Choose a time outside that hour.")
    return earlier.astimezone(UTC).replace(tzinfo=None)


def to_local(moment: datetime, timezone: str) -> datetime:
    """Naive UTC as naive local wall-clock time."""
    return moment.replace(tzinfo=UTC).astimezone(ZoneInfo(timezone)).replace(tzinfo=None)


def day_bounds(day: date, timezone: str, days: int = 1) -> tuple[datetime, datetime]:
    """The UTC instants a local day (or `days` days) starts and ends: 23 or 25 hours long
    on a clock-change day. Local midnight always exists in the zones the US uses."""
    zone = ZoneInfo(timezone)
    start = datetime.combine(day, datetime.min.time(), zone)
    end = datetime.combine(day + timedelta(days=days), datetime.min.time(), zone)
    return (start.astimezone(UTC).replace(tzinfo=None), end.astimezone(UTC).replace(tzinfo=None))


def rule_for(repeat: str, interval: int = 1) -> str:
    """The RRULE (without COUNT) a booking form's choice stands for."""
    if repeat == "weekly":
        return "FREQ=WEEKLY;INTERVAL=1"
    if repeat == "every_n_weeks":
        return f"FREQ=WEEKLY;INTERVAL={int(interval)}"
    if repeat == "monthly":
        return "FREQ=MONTHLY;INTERVAL=1"
    raise ValueError(f"not a repeating choice: {repeat!r}")


def occurrences(rule: str, first_local: datetime, count: int, skip: int = 0) -> list[datetime]:
    """Local starts number `skip` to `count - 1` of the series (0 is `first_local`)."""
    starts = rrulestr(f"{rule};COUNT={int(count)}", dtstart=first_local)
    return list(starts)[skip:]


def shifted_first(first_local: datetime, rule_local: datetime, new_local: datetime) -> datetime:
    """The series' new first start when the occurrence the rule put at `rule_local` moves
    to `new_local` for every occurrence: the same shift in days, the new time of day."""
    day_shift = new_local.date() - rule_local.date()
    return datetime.combine(first_local.date() + day_shift, new_local.time())
