"""Double-booking and availability checks: read-only, a few indexed queries each.

    clashes = find_conflicts(clinician_id, room_id, [client_id], starts_at, ends_at)
    problems = availability_problems(clinician_id, starts_at, ends_at, "America/New_York")

An appointment is at most MAX_LENGTH long, so "what overlaps [start, end)" is a range
scan of the (clinician, starts_at) or (room, starts_at) index from start - MAX_LENGTH,
not a walk of everything that began earlier. Only booked statuses hold the time.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from webapp.scheduling.models import BOOKED, Appointment, AppointmentClient, TimeOff, WorkingHours
from webapp.scheduling.recurrence import to_local

MAX_LENGTH = timedelta(hours=8)


@dataclass(frozen=True)
class Conflict:
    """One clash: `kind` is "clinician", "room" or "client"; `client_id` is the client
    being booked (for "client"); `other_client_ids` attend the clashing appointment."""

    kind: str
    appointment_id: int
    starts_at: datetime
    ends_at: datetime
    client_id: int | None
    other_client_ids: tuple[int, ...]


def _overlapping(starts_at: datetime, ends_at: datetime, exclude: Collection[int]) -> object:
    condition = ((Appointment.starts_at > starts_at - MAX_LENGTH)
                 & (Appointment.starts_at < ends_at) & (Appointment.ends_at > starts_at)
                 & Appointment.status.in_(BOOKED))
    if exclude:
        condition &= Appointment.id.not_in(list(exclude))
    return condition


def find_conflicts(clinician_id: int, room_id: int | None, client_ids: Collection[int],
                   starts_at: datetime, ends_at: datetime,
                   exclude: Collection[int] = ()) -> list[Conflict]:
    """Everything booked that overlaps, for the clinician, the room and each client.

    `exclude` holds the appointments being changed: an appointment never clashes with
    itself, so the clients already in a group session may stay in it.
    """
    overlap = _overlapping(starts_at, ends_at, exclude)
    columns = (Appointment.id, Appointment.starts_at, Appointment.ends_at)
    found: list[tuple[str, Any, int | None]] = []
    by_clinician: Any = Appointment.select(*columns).where(
        (Appointment.clinician == clinician_id) & overlap).tuples()
    found += [("clinician", row, None) for row in by_clinician]
    if room_id:
        by_room: Any = Appointment.select(*columns).where(
            (Appointment.room == room_id) & overlap).tuples()
        found += [("room", row, None) for row in by_room]
    if client_ids:
        by_client: Any = (Appointment.select(*columns, AppointmentClient.client)
                          .join(AppointmentClient,
                                on=(AppointmentClient.appointment == Appointment.id))
                          .where(AppointmentClient.client.in_(list(client_ids)) & overlap)
                          .tuples())
        found += [("client", row[:3], int(row[3])) for row in by_client]
    if not found:
        return []
    attendees: dict[int, list[int]] = {}
    pairs: Any = AppointmentClient.select(AppointmentClient.appointment,
                                          AppointmentClient.client).where(
        AppointmentClient.appointment.in_([row[0] for _, row, _ in found])).tuples()
    for appointment_id, client_id in pairs:
        attendees.setdefault(appointment_id, []).append(client_id)
    return [Conflict(kind, row[0], row[1], row[2], client_id, tuple(attendees.get(row[0], ())))
            for kind, row, client_id in found]


def availability_problems(clinician_id: int, starts_at: datetime, ends_at: datetime,
                          timezone: str) -> list[str]:
    """Why the time is outside the clinician's working hours or in their time off; empty
    when it is fine. A clinician with no working hours set may be booked at any time."""
    problems = []
    local_start, local_end = to_local(starts_at, timezone), to_local(ends_at, timezone)
    hours = list(WorkingHours.select().where(WorkingHours.clinician == clinician_id))
    if hours:
        fits = any(row.weekday == local_start.weekday() and local_start.date() == local_end.date()
                   and row.starts <= f"{local_start:%H:%M}" and f"{local_end:%H:%M}" <= row.ends
                   for row in hours)
        if not fits:
            problems.append(f"{local_start:%a %b %-d, %-I:%M %p} to {local_end:%-I:%M %p} is "
                            "outside the clinician's working hours.")
    for leave in TimeOff.select().where(
            (TimeOff.clinician == clinician_id) & (TimeOff.starts_at < ends_at)
            & (TimeOff.ends_at > starts_at)):
        first = to_local(leave.starts_at, timezone)
        last = to_local(leave.ends_at, timezone)
        problems.append(f"The clinician is on time off from {first:%a %b %-d, %-I:%M %p} "
                        f"to {last:%a %b %-d, %-I:%M %p}.")
    return problems
