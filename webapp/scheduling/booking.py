"""A booking form's values, checked, and the refusals booking can give.

    booking = clean_booking(user, form.data)   # raises InvalidAppointment(errors)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from webapp.access.service import access_to
from webapp.clients.models import Client
from webapp.core.models import StaffUser
from webapp.scheduling import recurrence
from webapp.scheduling.conflicts import MAX_LENGTH
from webapp.scheduling.models import FORMAT_CLIENTS, AppointmentType, Room


class InvalidAppointment(ValueError):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


class DoubleBooked(ValueError):
    """Refused: each message names the kind of conflict and its time."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__(" ".join(messages))
        self.messages = messages


class OutsideAvailability(ValueError):
    """Outside working hours or in time off: allowed only with an override reason."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__(" ".join(messages))
        self.messages = messages


class AppointmentNotFound(LookupError):
    pass


@dataclass(frozen=True)
class Booking:
    """A booking form's values, checked."""

    clinician_id: int
    appointment_type: AppointmentType
    room_id: int | None
    client_ids: tuple[int, ...]
    local_start: datetime
    duration: timedelta
    repeat: str
    interval: int
    count: int


def _int(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def clean_booking(user: Any, values: dict[str, Any]) -> Booking:
    """The values, checked: every problem at once, in the practice's words."""
    errors: dict[str, str] = {}
    clinician_id = _int(values.get("clinician_id"))
    clinician = StaffUser.get_or_none(StaffUser.id == clinician_id) if clinician_id else None
    if clinician is None or not clinician.is_active or not (
            clinician.role_set & {"clinician", "supervisor"}):
        errors["clinician_id"] = "Choose a clinician."
    type_id = _int(values.get("appointment_type_id"))
    kind = AppointmentType.get_or_none(AppointmentType.id == type_id) if type_id else None
    if kind is None or not kind.active:
        errors["appointment_type_id"] = "Choose an appointment type."
    room_id = _int(values.get("room_id")) or None
    if room_id is not None and Room.get_or_none((Room.id == room_id) & (Room.active == True)) \
            is None:  # noqa: E712
        errors["room_id"] = "Choose a room, or none."
    client_ids = tuple(dict.fromkeys(i for i in map(_int, values.get("client_ids") or []) if i))
    if not client_ids:
        errors["client_ids"] = "Choose the client (or clients) coming."
    elif Client.select().where(Client.id.in_(client_ids)).count() != len(client_ids) or any(
            access_to(user, client_id).client is None for client_id in client_ids):
        errors["client_ids"] = "Choose clients from your own list."
    elif kind is not None:
        fewest, most = FORMAT_CLIENTS[kind.format]
        if not fewest <= len(client_ids) <= most:
            errors["client_ids"] = (f"A {kind.format} appointment has {fewest} client(s)."
                                    if fewest == most else
                                    f"A {kind.format} appointment has {fewest} to {most} clients.")
    day, start = values.get("date"), values.get("start_time")
    if not isinstance(day, date) or not isinstance(start, time):
        errors["date"] = "Give the date and start time."
    minutes = _int(values.get("duration_minutes")) or (kind.duration_minutes if kind else 50)
    if not 5 <= minutes <= MAX_LENGTH.total_seconds() // 60:
        errors["duration_minutes"] = "A session lasts 5 minutes to 8 hours."
    repeat = values.get("repeat") or "none"
    interval = _int(values.get("interval")) or 1
    count = _int(values.get("count")) or 1
    if repeat not in recurrence.REPEATS:
        errors["repeat"] = "Choose how it repeats."
    elif repeat != "none":
        if repeat == "every_n_weeks" and not 2 <= interval <= 8:
            errors["interval"] = "Every 2 to 8 weeks."
        if not 2 <= count <= recurrence.MAX_OCCURRENCES:
            errors["count"] = (f"A series has 2 to {recurrence.MAX_OCCURRENCES} "
                               "appointments; extend it later for more.")
    if errors:
        raise InvalidAppointment(errors)
    assert kind is not None and clinician_id is not None
    return Booking(clinician_id, kind, room_id, client_ids,
                   datetime.combine(day, start), timedelta(minutes=minutes),  # type: ignore
                   repeat, interval, count)
