"""Reading the calendar: a clinician's day and week, and the front desk's day.

    week = week_view(user, clinician_id, any_day_in_the_week, "America/New_York")

Each page is a handful of indexed queries whatever the size of the database (the
(clinician, starts_at) and (starts_at) indexes), and one audit entry. Rows carry
what the reader may see: client names in their scope, billing codes only for
those with clinical access.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from peewee import JOIN

from webapp.access.service import require_permission
from webapp.audit.service import record
from webapp.core.models import StaffUser
from webapp.scheduling.models import (
    STATUS_LABELS,
    Appointment,
    AppointmentClient,
    AppointmentType,
    Room,
)
from webapp.scheduling.recurrence import day_bounds, to_local
from webapp.scheduling.scope import calendar_ids, require_calendar, shows_clinical, visible_clients


@dataclass(frozen=True)
class CalendarRow:
    """One appointment, ready to print in the practice's time zone."""

    appointment_id: int
    clinician_id: int
    day: date
    starts: str  # "10:00 AM"
    ends: str
    type_name: str
    colour: str
    video: bool
    room: str
    clients: str  # names the reader may see; "Client outside your caseload" otherwise
    status: str
    status_label: str
    billing_code: str  # CPT and modifiers; empty for readers without clinical access
    in_series: bool


def rows_between(user: Any, clinician_ids: list[int] | None, starts: Any, ends: Any,
                 timezone: str) -> list[CalendarRow]:
    query = (Appointment.select(Appointment, AppointmentType, Room.name.alias("room_name"))
             .join(AppointmentType).switch(Appointment)
             .join(Room, JOIN.LEFT_OUTER)
             .where((Appointment.starts_at >= starts) & (Appointment.starts_at < ends)))
    if clinician_ids is not None:
        query = query.where(Appointment.clinician.in_(clinician_ids))
    appointments = list(query.order_by(Appointment.starts_at, Appointment.id))
    attendees: dict[int, list[int]] = {}
    if appointments:
        pairs: Any = AppointmentClient.select(
            AppointmentClient.appointment, AppointmentClient.client).where(
            AppointmentClient.appointment.in_([a.id for a in appointments])).tuples()
        for appointment_id, client_id in pairs:
            attendees.setdefault(appointment_id, []).append(client_id)
    names = visible_clients(user, {c for ids in attendees.values() for c in ids})
    clinical = shows_clinical(user)
    rows = []
    for appointment in appointments:
        kind = appointment.appointment_type
        first = to_local(appointment.starts_at, timezone)
        last = to_local(appointment.ends_at, timezone)
        clients = attendees.get(appointment.id, [])
        shown = [names[c] for c in clients if c in names]
        hidden = len(clients) - len(shown)
        if hidden:
            shown.append(f"{hidden} client(s) outside your caseload")
        code = ""
        if clinical and kind.cpt_code:
            code = " ".join([kind.cpt_code, *filter(None, kind.modifiers.split(","))])
        rows.append(CalendarRow(
            appointment.id, appointment.clinician_id, first.date(),
            first.strftime("%-I:%M %p"), last.strftime("%-I:%M %p"), kind.name, kind.colour,
            kind.modality == "video", getattr(appointment, "room_name", None) or "",
            ", ".join(shown), appointment.status, STATUS_LABELS[appointment.status], code,
            appointment.series_id is not None))
    return rows


def week_view(user: Any, clinician_id: int, day: date, timezone: str
              ) -> tuple[date, list[tuple[date, list[CalendarRow]]]]:
    """The week (Monday to Sunday) holding `day`: its Monday and each day's rows."""
    require_calendar(user, clinician_id)
    monday = day - timedelta(days=day.weekday())
    starts, ends = day_bounds(monday, timezone, days=7)
    rows = rows_between(user, [clinician_id], starts, ends, timezone)
    record("view", object_type="schedule", object_id=clinician_id)
    days = [monday + timedelta(days=offset) for offset in range(7)]
    return monday, [(each, [row for row in rows if row.day == each]) for each in days]


def day_view(user: Any, clinician_id: int, day: date, timezone: str) -> list[CalendarRow]:
    require_calendar(user, clinician_id)
    starts, ends = day_bounds(day, timezone)
    rows = rows_between(user, [clinician_id], starts, ends, timezone)
    record("view", object_type="schedule", object_id=clinician_id)
    return rows


def clinicians_for(user: Any) -> list[StaffUser]:
    """The clinicians whose calendars `user` may open, by name."""
    allowed = calendar_ids(user)
    query = StaffUser.select().where(StaffUser.is_active == True)  # noqa: E712
    if allowed is not None:
        query = query.where(StaffUser.id.in_(allowed))
    return [person for person in query.order_by(StaffUser.full_name)
            if person.role_set & {"clinician", "supervisor"}]


def desk_view(user: Any, day: date, timezone: str
              ) -> list[tuple[StaffUser, list[CalendarRow]]]:
    """Every clinician in scope, side by side for one day (the front desk's page)."""
    require_permission(user, "schedule.view")
    people = clinicians_for(user)
    starts, ends = day_bounds(day, timezone)
    rows = rows_between(user, [person.id for person in people], starts, ends, timezone)
    record("view", object_type="schedule_day")
    return [(person, [row for row in rows if row.clinician_id == person.id])
            for person in people]
