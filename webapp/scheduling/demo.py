"""Demo schedule: the practice's appointment types and rooms, each clinician's working
hours, and a fortnight of appointments around the demo's date (ANCHOR, a Tuesday):
weekly series that carry on past it, intakes, couples sessions, video sessions and the
supervisor's weekly group, with statuses as the days before ANCHOR turned out.

Written directly (as the other demo steps are), but conflict-free by construction: a
clinician's clients are on their own caseload, each clinician's slots are tracked, and a
room is given only when it is free. Times are local wall-clock times converted to UTC.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from typing import Any

from webapp.clients.demo import ANCHOR
from webapp.clients.models import Client, ClinicianAssignment
from webapp.scheduling.models import (
    Appointment,
    AppointmentClient,
    AppointmentType,
    Room,
    Series,
    WorkingHours,
)
from webapp.scheduling.recurrence import occurrences, rule_for, to_utc

TIMEZONE = "America/New_York"  # appliance.config.Settings' default
FIRST_DAY = ANCHOR - timedelta(days=ANCHOR.weekday() + 7)  # the Monday a week before
DAYS = [FIRST_DAY + timedelta(days=n) for n in range(14) if n % 7 < 5]  # weekdays

TYPES = (  # name, minutes, CPT, modifiers, modality, format, colour
    ("Individual 53+ min", 53, "90837", "", "in_person", "individual", "#4a6fa5"),
    ("Individual 53+ min (video)", 53, "90837", "95", "video", "individual", "#3d8b7a"),
    ("Intake assessment", 60, "90791", "", "in_person", "individual", "#8a5a9e"),
    ("Couples session", 50, "90847", "", "in_person", "couples", "#b5651d"),
    ("DBT skills group", 90, "90853", "", "in_person", "group", "#6b8e23"),
)
ROOMS = ("Room 1 (Maple)", "Room 2 (Cedar)")
# (first hour, last hour) on weekdays 0-4; the last clinician works evenings.
HOURS = ((9, 17), (9, 17), (10, 18), (8, 16), (9, 17), (12, 20))
NO_SHOW = ("No call, no show", "Client said they forgot")
CANCELLED = ("Car trouble", "Sick child at home", "Work conflict")


def _slot(rng: random.Random, free: list[tuple[date, int]], taken: set[tuple[date, int]],
          week_one: bool = False) -> tuple[date, int] | None:
    """A free hour of the fortnight; for a weekly series, one in the first week whose
    hour a week later is free too."""
    next_week = {(day - timedelta(days=7), hour) for day, hour in taken}
    choices = [(day, hour) for day, hour in free if (day, hour) not in taken
               and (not week_one or day < FIRST_DAY + timedelta(days=7))
               and (day, hour) not in next_week]
    return rng.choice(choices) if choices else None


def load_schedule(rng: random.Random, context: dict[str, Any]) -> str:
    kinds = {name: AppointmentType.create(name=name, duration_minutes=minutes, cpt_code=code,
                                          modifiers=modifiers, modality=modality, format=kind,
                                          colour=colour)
             for name, minutes, code, modifiers, modality, kind, colour in TYPES}
    rooms = [Room.create(name=name) for name in ROOMS]
    room_busy: set[tuple[int, datetime]] = set()  # (room, each hour it is in use, UTC)
    booked_at = to_utc(datetime.combine(FIRST_DAY - timedelta(days=7), time(9)), TIMEZONE)
    confirmed_at = to_utc(datetime.combine(ANCHOR - timedelta(days=1), time(10)), TIMEZONE)
    counts = {"appointments": 0, "series": 0}

    def add(clinician_id: int, kind: AppointmentType, client_ids: list[int],
            local_starts: list[datetime], series: Series | None = None) -> None:
        starts = [to_utc(start, TIMEZONE) for start in local_starts]
        hours = [start + timedelta(hours=n) for start in starts
                 for n in range((kind.duration_minutes + 59) // 60)]
        room = None
        if kind.modality == "in_person":
            room = next((r for r in rooms if not any((r.id, h) in room_busy for h in hours)),
                        None)
        for index, (local, start) in enumerate(zip(local_starts, starts, strict=True)):
            status, reason = "scheduled", ""
            if local.date() < ANCHOR:
                roll = rng.random()
                status, reason = (("no_show", rng.choice(NO_SHOW)) if roll < 0.06 else
                                  ("cancelled_client", rng.choice(CANCELLED)) if roll < 0.12
                                  else ("attended", ""))
            elif local.date() < ANCHOR + timedelta(days=2) and rng.random() < 0.5:
                status = "confirmed"
            appointment = Appointment.create(
                clinician=clinician_id, room=room.id if room else None,
                appointment_type=kind.id, starts_at=start,
                ends_at=start + timedelta(minutes=kind.duration_minutes), status=status,
                status_reason=reason,
                status_changed_at=(None if status == "scheduled" else
                                   confirmed_at if status == "confirmed" else start),
                series=series, occurrence_index=index if series else None,
                created_at=booked_at, updated_at=booked_at)
            for client_id in client_ids:
                AppointmentClient.create(appointment=appointment.id, client=client_id)
            counts["appointments"] += 1
        if room is not None:
            room_busy.update((room.id, h) for h in hours)

    for position, clinician in enumerate(context["clinicians"]):
        first, last = HOURS[position % len(HOURS)]
        for weekday in range(5):
            WorkingHours.create(clinician=clinician.id, weekday=weekday,
                                starts=f"{first:02d}:00", ends=f"{last:02d}:00")
        caseload = [c.id for c in Client.select(Client.id).join(ClinicianAssignment).where(
            (ClinicianAssignment.clinician == clinician.id)
            & (ClinicianAssignment.is_primary == True)  # noqa: E712
            & (Client.status == "active")).order_by(Client.id)]
        free = [(day, hour) for day in DAYS for hour in range(first, last) if hour != 12]
        taken: set[tuple[date, int]] = set()

        group = []
        if position == 0 and len(caseload) >= 10:  # the supervisor's Thursday group
            group, caseload = caseload[:6], caseload[6:]
            group_start = datetime.combine(FIRST_DAY + timedelta(days=3), time(first + 6))
            series = Series.create(clinician=clinician.id, rrule=rule_for("weekly"),
                                   starts_local=group_start, timezone=TIMEZONE, count=8)
            add(clinician.id, kinds["DBT skills group"], group,
                occurrences(series.rrule, group_start, 8), series)
            counts["series"] += 1
            for week in (0, 1):
                taken.add((group_start.date() + timedelta(weeks=week), first + 6))
                taken.add((group_start.date() + timedelta(weeks=week), first + 7))
        rng.shuffle(caseload)
        weekly, rest = caseload[:9], caseload[9:]
        for client_id in weekly:  # weekly clients: a series from the first week
            found = _slot(rng, free, taken, week_one=True)
            if found is None:
                break
            day, hour = found
            taken.update({(day, hour), (day + timedelta(days=7), hour)})
            start = datetime.combine(day, time(hour))
            count = rng.randrange(8, 13)
            kind = kinds["Individual 53+ min (video)" if rng.random() < 0.3
                         else "Individual 53+ min"]
            series = Series.create(clinician=clinician.id, rrule=rule_for("weekly"),
                                   starts_local=start, timezone=TIMEZONE, count=count)
            add(clinician.id, kind, [client_id], occurrences(series.rrule, start, count),
                series)
            counts["series"] += 1
        singles = [("Intake assessment", [[c] for c in rest[:2]]),
                   ("Individual 53+ min", [[c] for c in rest[2:5]])]
        if len(rest) >= 7:
            singles.append(("Couples session", [rest[5:7]]))
        for name, groups in singles:
            for client_ids in groups:
                found = _slot(rng, free, taken)
                if found is None:
                    break
                taken.add(found)
                add(clinician.id, kinds[name], client_ids,
                    [datetime.combine(found[0], time(found[1]))])
    return (f"{len(TYPES)} appointment types, {len(ROOMS)} rooms, working hours, and "
            f"{counts['appointments']} appointments ({counts['series']} weekly series) from "
            f"{FIRST_DAY:%b %-d}")
