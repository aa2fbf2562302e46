"""Booking, moving and cancelling appointments: the only code that changes them.

    booked = book(user, {"clinician_id": 3, "appointment_type_id": 1, "client_ids": [7],
                         "date": date(2026, 3, 9), "start_time": time(10), "repeat": "weekly",
                         "count": 12})
    reschedule(user, booked[3].id, {... "start_time": time(11)}, scope="following")
    openings = change_status(user, booked[5].id, "cancelled_client", "Car trouble")

Times come in as the practice's wall-clock time (`settings.timezone`) and are stored
in UTC. Every change is checked for double-booking (clinician, room, each client),
then against working hours and time off (which a reason overrides), and is written
in one transaction with an audit entry per client (ids only) and a revision.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from appliance.storage import db
from webapp.audit.service import record
from webapp.core.timeutil import utcnow
from webapp.revisions.service import record_revision, snapshot_of
from webapp.scheduling import recurrence
from webapp.scheduling.booking import (
    AppointmentNotFound,
    Booking,
    DoubleBooked,
    InvalidAppointment,
    OutsideAvailability,
    clean_booking,
)
from webapp.scheduling.conflicts import availability_problems, find_conflicts
from webapp.scheduling.models import (
    BOOKED,
    CANCELLED,
    NEEDS_REASON,
    STATUS_LABELS,
    STATUSES,
    Appointment,
    AppointmentClient,
    Series,
    SeriesException,
)
from webapp.scheduling.recurrence import InvalidTime, to_local, to_utc
from webapp.scheduling.scope import require_calendar, visible_clients
from webapp.scheduling.waitlist import WaitlistEntry, matches_for

SCOPES = ("this", "following", "all")
MOVABLE = ("scheduled", "confirmed")  # what series-wide edits move or cancel

__all__ = ["AppointmentNotFound", "Booking", "DoubleBooked", "InvalidAppointment",
           "OutsideAvailability", "book", "change_status", "clean_booking", "extend_series",
           "get_appointment", "reschedule"]


def _timezone() -> str:
    from flask import current_app, has_app_context

    if has_app_context() and "HEARTH_SETTINGS" in current_app.config:
        return str(current_app.config["HEARTH_SETTINGS"].timezone)
    return "America/New_York"  # the default of appliance.config.Settings


def _utc(local_start: datetime, timezone: str, field: str = "date") -> datetime:
    try:
        return to_utc(local_start, timezone)
    except InvalidTime as exc:
        raise InvalidAppointment({field: str(exc)}) from None


def _when(starts_at: datetime, ends_at: datetime, timezone: str) -> str:
    first, last = to_local(starts_at, timezone), to_local(ends_at, timezone)
    return f"on {first:%a %b %-d, %Y} from {first:%-I:%M %p} to {last:%-I:%M %p}"


def _check(user: Any, booking: Booking, slots: list[tuple[datetime, datetime]],
           exclude: set[int], override_reason: str, timezone: str,
           availability: bool = True) -> None:
    """Refuse double-booking outright, and time outside availability unless overridden."""
    clashes = [conflict for start, end in slots for conflict in find_conflicts(
        booking.clinician_id, booking.room_id, booking.client_ids, start, end, exclude)]
    if clashes:
        names = visible_clients(user, {c for clash in clashes for c in
                                       (*clash.other_client_ids, clash.client_id or 0)})
        messages = []
        for clash in clashes:
            when = _when(clash.starts_at, clash.ends_at, timezone)
            others = [names[c] for c in clash.other_client_ids if c in names
                      and c != clash.client_id]
            with_whom = f" (with {', '.join(others)})" if others else ""
            if clash.kind == "client":
                who = names.get(clash.client_id or 0, "A client")
                messages.append(f"Client conflict: {who} already has an appointment {when}.")
            else:
                messages.append(f"{clash.kind.capitalize()} conflict: the {clash.kind} is "
                                f"already booked {when}{with_whom}.")
        raise DoubleBooked(list(dict.fromkeys(messages)))
    if not availability:
        return
    problems = [p for start, end in slots
                for p in availability_problems(booking.clinician_id, start, end, timezone)]
    if problems and not override_reason.strip():
        raise OutsideAvailability(list(dict.fromkeys(problems)))


def _audit(action: str, appointment: Appointment, client_ids: tuple[int, ...] | list[int]
           ) -> None:
    """One entry per client who attends, so each client's access report shows it."""
    for client_id in client_ids:
        if action == "create":
            record("create", object_type="appointment", object_id=appointment.id,
                   client_id=client_id)
        elif action == "update":
            record("update", object_type="appointment", object_id=appointment.id,
                   client_id=client_id)
        elif action == "cancel":
            record("cancel", object_type="appointment", object_id=appointment.id,
                   client_id=client_id)
        else:
            record("status_change", object_type="appointment", object_id=appointment.id,
                   client_id=client_id)


def _override(appointment: Appointment, reason: str) -> None:
    appointment.override_reason = " ".join(reason.split())[:200]
    if appointment.override_reason:
        record("override", object_type="appointment", object_id=appointment.id)


def book(user: Any, values: dict[str, Any], override_reason: str = "") -> list[Appointment]:
    """A new appointment, or a series of them (weekly, every N weeks, monthly)."""
    booking = clean_booking(user, values)
    require_calendar(user, booking.clinician_id, edit=True)
    timezone = _timezone()
    rule = None
    if booking.repeat == "none":
        local_starts = [booking.local_start]
    else:
        rule = recurrence.rule_for(booking.repeat, booking.interval)
        local_starts = recurrence.occurrences(rule, booking.local_start, booking.count)
    starts = [_utc(start, timezone) for start in local_starts]
    slots = [(start, start + booking.duration) for start in starts]
    with db.atomic():
        _check(user, booking, slots, set(), override_reason, timezone)
        series = None
        if rule is not None:
            series = Series.create(clinician=booking.clinician_id, rrule=rule,
                                   starts_local=booking.local_start, timezone=timezone,
                                   count=len(slots))
        booked = []
        for index, (start, end) in enumerate(slots):
            appointment = Appointment.create(
                clinician=booking.clinician_id, room=booking.room_id,
                appointment_type=booking.appointment_type.id, starts_at=start, ends_at=end,
                series=series, occurrence_index=index if series else None)
            for client_id in booking.client_ids:
                AppointmentClient.create(appointment=appointment.id, client=client_id)
            _override(appointment, override_reason)
            appointment.save()
            _audit("create", appointment, booking.client_ids)
            record_revision(appointment, user)
            booked.append(appointment)
    return booked


def get_appointment(user: Any, appointment_id: int, edit: bool = False,
                    audit: bool = True) -> Appointment:
    appointment = Appointment.get_or_none(Appointment.id == appointment_id)
    if appointment is None:
        raise AppointmentNotFound(appointment_id)
    require_calendar(user, appointment.clinician_id, edit=edit)
    if audit:
        for client_id in client_ids_of(appointment):
            record("view", object_type="appointment", object_id=appointment.id,
                   client_id=client_id)
    return appointment


def client_ids_of(appointment: Appointment) -> list[int]:
    return [row.client_id for row in AppointmentClient.select(AppointmentClient.client)
            .where(AppointmentClient.appointment == appointment.id)
            .order_by(AppointmentClient.id)]


def _index(appointment: Appointment) -> int:
    """Its place in its series (0 for an appointment on its own)."""
    return int(appointment.occurrence_index or 0)


def _targets(appointment: Appointment, scope: str) -> list[Appointment]:
    """The appointments an edit of `appointment` with `scope` changes, in order."""
    if scope not in SCOPES:
        raise InvalidAppointment({"scope": "Choose this appointment, this and following, "
                                           "or all in the series."})
    if scope == "this" or appointment.series_id is None:
        return [appointment]
    query = Appointment.select().where((Appointment.series == appointment.series_id)
                                       & Appointment.status.in_(MOVABLE))
    if scope == "following":
        query = query.where(Appointment.occurrence_index >= appointment.occurrence_index)
    found = list(query.order_by(Appointment.occurrence_index))
    return found if appointment in found else [appointment, *found]


def _set_clients(appointment: Appointment, client_ids: tuple[int, ...]) -> None:
    AppointmentClient.delete().where((AppointmentClient.appointment == appointment.id)
                                     & AppointmentClient.client.not_in(client_ids)).execute()
    present = set(client_ids_of(appointment))
    for client_id in client_ids:
        if client_id not in present:
            AppointmentClient.create(appointment=appointment.id, client=client_id)


def reschedule(user: Any, appointment_id: int, values: dict[str, Any], scope: str = "this",
               override_reason: str = "") -> list[Appointment]:
    """Change an appointment, or this and the following ones of its series, or all of them
    (those still scheduled or confirmed). A series-wide time change keeps the rule: each
    occurrence moves by the same days, to the new time of day, in local time."""
    appointment = get_appointment(user, appointment_id, edit=True, audit=False)
    booking = clean_booking(user, {**values, "repeat": "none"})
    require_calendar(user, booking.clinician_id, edit=True)
    timezone = _timezone()
    targets = _targets(appointment, scope)
    new_start = _utc(booking.local_start, timezone)
    series = Series.get_by_id(appointment.series_id) if appointment.series_id else None
    plan: list[tuple[Appointment, datetime]] = []
    new_series_start = None
    if series is None or scope == "this":
        plan = [(appointment, new_start)]
    else:
        index = _index(appointment)
        rule_local = recurrence.occurrences(series.rrule, series.starts_local, index + 1)[index]
        first = recurrence.shifted_first(series.starts_local, rule_local, booking.local_start)
        pattern = recurrence.occurrences(series.rrule, first, series.count)
        new_series_start = pattern[index] if scope == "following" else first
        plan = [(target, _utc(pattern[_index(target)], timezone, "date"))
                for target in targets]
    slots = [(start, start + booking.duration) for _, start in plan]
    with db.atomic():
        _check(user, booking, slots, {target.id for target, _ in plan}, override_reason,
               timezone)
        if series is not None and scope == "this" and new_start != appointment.starts_at:
            _mark_exception(series, appointment, "moved", timezone)
        if series is not None and new_series_start is not None:
            series = _split(series, _index(appointment), scope,
                            new_series_start, booking.clinician_id)
        changed = []
        for target, start in plan:
            before = snapshot_of(target)
            target = Appointment.get_by_id(target.id)  # re-read: a split renumbers
            target.clinician_id, target.room_id = booking.clinician_id, booking.room_id
            target.appointment_type_id = booking.appointment_type.id
            target.starts_at, target.ends_at = start, start + booking.duration
            target.updated_at = utcnow()
            _override(target, override_reason)
            target.save()
            _set_clients(target, booking.client_ids)
            _audit("update", target, booking.client_ids)
            record_revision(target, user, before)
            changed.append(target)
    return changed


def _mark_exception(series: Series, appointment: Appointment, kind: str,
                    timezone: str) -> None:
    index = _index(appointment)
    original = recurrence.occurrences(series.rrule, series.starts_local, index + 1)[index]
    SeriesException.delete().where((SeriesException.series == series.id)
                                   & (SeriesException.occurrence_index == index)).execute()
    SeriesException.create(series=series.id, occurrence_index=index, kind=kind,
                           original_starts_at=to_utc(original, series.timezone))


def _split(series: Series, index: int, scope: str, new_start_local: datetime,
           clinician_id: int) -> Series:
    """For "all", the series itself takes the new pattern; for "following", the
    occurrences from `index` on become a new series (renumbered from 0) with it."""
    if scope == "all" or index == 0:
        series.starts_local, series.clinician_id = new_start_local, clinician_id
        series.save()
        SeriesException.delete().where((SeriesException.series == series.id)
                                       & (SeriesException.kind == "moved")).execute()
        return series
    following = Series.create(clinician=clinician_id, rrule=series.rrule,
                              starts_local=new_start_local, timezone=series.timezone,
                              count=series.count - index)
    Appointment.update(series=following.id,
                       occurrence_index=Appointment.occurrence_index - index).where(
        (Appointment.series == series.id) & (Appointment.occurrence_index >= index)).execute()
    SeriesException.delete().where((SeriesException.series == series.id)
                                   & (SeriesException.occurrence_index >= index)
                                   & (SeriesException.kind == "moved")).execute()
    SeriesException.update(series=following.id,
                           occurrence_index=SeriesException.occurrence_index - index).where(
        (SeriesException.series == series.id)
        & (SeriesException.occurrence_index >= index)).execute()
    series.count = index
    series.save()
    return following


def extend_series(user: Any, series_id: int, extra: int, override_reason: str = ""
                  ) -> list[Appointment]:
    """Up to 52 more occurrences, like the series' latest one (type, room, clients)."""
    series = Series.get_or_none(Series.id == series_id)
    if series is None:
        raise AppointmentNotFound(series_id)
    require_calendar(user, series.clinician_id, edit=True)
    if not 1 <= extra <= recurrence.MAX_OCCURRENCES:
        raise InvalidAppointment({"count": f"Extend by 1 to {recurrence.MAX_OCCURRENCES}."})
    latest = Appointment.select().where(Appointment.series == series.id).order_by(
        Appointment.occurrence_index.desc()).first()
    local = recurrence.occurrences(series.rrule, series.starts_local, series.count + extra,
                                   skip=series.count)
    clients = tuple(client_ids_of(latest))
    booking = Booking(series.clinician_id, latest.appointment_type, latest.room_id, clients,
                      local[0], latest.ends_at - latest.starts_at, "none", 1, 1)
    slots = [(start, start + booking.duration) for start in
             (_utc(moment, series.timezone) for moment in local)]
    with db.atomic():
        _check(user, booking, slots, set(), override_reason, series.timezone)
        booked = []
        for offset, (start, end) in enumerate(slots):
            appointment = Appointment.create(
                clinician=series.clinician_id, room=latest.room_id,
                appointment_type=latest.appointment_type_id, starts_at=start, ends_at=end,
                series=series.id, occurrence_index=series.count + offset)
            for client_id in clients:
                AppointmentClient.create(appointment=appointment.id, client=client_id)
            _override(appointment, override_reason)
            appointment.save()
            _audit("create", appointment, clients)
            record_revision(appointment, user)
            booked.append(appointment)
        series.count += extra
        series.save()
    return booked


def change_status(user: Any, appointment_id: int, status: str, reason: str = "",
                  scope: str = "this") -> list[WaitlistEntry]:
    """Mark an appointment confirmed, arrived, attended, a no-show, or cancelled (with a
    reason). A cancelled slot is open again: returns the waitlist entries that match it."""
    appointment = get_appointment(user, appointment_id, edit=True, audit=False)
    reason = " ".join((reason or "").split())
    if status not in STATUSES:
        raise InvalidAppointment({"status": "Choose a status."})
    if status in NEEDS_REASON and not reason:
        raise InvalidAppointment({"reason": f"Say why ({STATUS_LABELS[status].lower()})."})
    if len(reason) > 200:
        raise InvalidAppointment({"reason": "Too long (200 characters at most)."})
    if scope != "this" and status not in CANCELLED:
        raise InvalidAppointment({"scope": "Only cancellations apply to a whole series."})
    targets = _targets(appointment, scope)
    timezone = _timezone()
    with db.atomic():
        for target in targets:
            if status in BOOKED and target.status not in BOOKED:  # back on the calendar
                clients = tuple(client_ids_of(target))
                booking = Booking(target.clinician_id, target.appointment_type,
                                  target.room_id, clients, datetime.min,
                                  target.ends_at - target.starts_at, "none", 1, 1)
                _check(user, booking, [(target.starts_at, target.ends_at)], {target.id},
                       "", timezone, availability=False)
            before = snapshot_of(target)
            target.status, target.status_reason = status, reason
            target.status_changed_at = target.updated_at = utcnow()
            target.save()
            if status in CANCELLED and target.series_id is not None and scope == "this":
                _mark_exception(Series.get_by_id(target.series_id), target, "skipped",
                                timezone)
            _audit("cancel" if status in CANCELLED else "status_change", target,
                   client_ids_of(target))
            record_revision(target, user, before)
    return matches_for(user, appointment, timezone) if status in CANCELLED else []
