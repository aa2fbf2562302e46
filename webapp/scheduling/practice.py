"""What the practice sets up before booking: appointment types, rooms, clinicians'
working hours and time off.

    kind = save_appointment_type(admin, {"name": "Individual 53+ min", "duration_minutes": 55,
                                         "cpt_code": "90837", "modifiers": "95",
                                         "modality": "video", "format": "individual"})
    set_working_hours(user, clinician_id, [(0, time(9), time(17)), ...])
"""

from __future__ import annotations

import re
from datetime import datetime, time
from typing import Any

from appliance.storage import db
from webapp.access.service import require_permission
from webapp.audit.service import record
from webapp.scheduling.models import (
    CPT_CODES,
    FORMATS,
    MODALITIES,
    MODIFIERS,
    AppointmentType,
    Room,
    TimeOff,
    WorkingHours,
)
from webapp.scheduling.scope import require_calendar

COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


class InvalidSetup(ValueError):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


def clean_appointment_type(values: dict[str, Any]) -> dict[str, Any]:
    errors = {}
    name = " ".join(str(values.get("name") or "").split())
    if not 1 <= len(name) <= 80:
        errors["name"] = "Give the type a name (80 characters at most)."
    try:
        minutes = int(values.get("duration_minutes") or 0)
    except (TypeError, ValueError):
        minutes = 0
    if not 5 <= minutes <= 480:
        errors["duration_minutes"] = "A session lasts 5 minutes to 8 hours."
    code = str(values.get("cpt_code") or "").strip().lstrip("+")
    if code and code not in CPT_CODES:
        errors["cpt_code"] = f"Use a psychotherapy code: {', '.join(CPT_CODES)}."
    modifiers = [m.strip().upper() for m in str(values.get("modifiers") or "").split(",")
                 if m.strip()]
    if len(modifiers) > 4 or any(m not in MODIFIERS for m in modifiers):
        errors["modifiers"] = f"Up to 4 of: {', '.join(MODIFIERS)}."
    modality = values.get("modality") or "in_person"
    if modality not in MODALITIES:
        errors["modality"] = "In person or video."
    kind = values.get("format") or "individual"
    if kind not in FORMATS:
        errors["format"] = "Individual, couples, family or group."
    colour = str(values.get("colour") or "#4a6fa5")
    if not COLOUR.match(colour):
        errors["colour"] = "A colour like #4a6fa5."
    if errors:
        raise InvalidSetup(errors)
    return {"name": name, "duration_minutes": minutes, "cpt_code": code,
            "modifiers": ",".join(modifiers), "modality": modality, "format": kind,
            "colour": colour.lower(), "active": bool(values.get("active", True))}


def save_appointment_type(user: Any, values: dict[str, Any],
                          type_id: int | None = None) -> AppointmentType:
    require_permission(user, "admin.console")
    clean = clean_appointment_type(values)
    with db.atomic():
        taken = AppointmentType.select().where(AppointmentType.name == clean["name"])
        if type_id is not None:
            taken = taken.where(AppointmentType.id != type_id)
        if taken.exists():
            raise InvalidSetup({"name": "There is already a type with that name."})
        if type_id is None:
            kind = AppointmentType.create(**clean)
            record("create", object_type="appointment_type", object_id=kind.id)
        else:
            kind = AppointmentType.get_by_id(type_id)
            for name, value in clean.items():
                setattr(kind, name, value)
            kind.save()
            record("update", object_type="appointment_type", object_id=kind.id)
    return kind


def add_room(user: Any, name: str) -> Room:
    require_permission(user, "admin.console")
    name = " ".join(name.split())
    if not 1 <= len(name) <= 80:
        raise InvalidSetup({"name": "Give the room a name (80 characters at most)."})
    with db.atomic():
        if Room.select().where(Room.name == name).exists():
            raise InvalidSetup({"name": "There is already a room with that name."})
        room = Room.create(name=name)
        record("create", object_type="room", object_id=room.id)
    return room


def update_room(user: Any, room_id: int, name: str | None = None,
                active: bool | None = None) -> Room:
    """Rename a room, or take it out of (or back into) use; its bookings stay."""
    require_permission(user, "admin.console")
    room = Room.get_or_none(Room.id == room_id)
    if room is None:
        raise LookupError(room_id)
    with db.atomic():
        if name is not None:
            name = " ".join(name.split())
            if not 1 <= len(name) <= 80:
                raise InvalidSetup({"name": "Give the room a name (80 characters at most)."})
            if Room.select().where((Room.name == name) & (Room.id != room_id)).exists():
                raise InvalidSetup({"name": "There is already a room with that name."})
            room.name = name
        if active is not None:
            room.active = active
        room.save()
        record("update", object_type="room", object_id=room.id)
    return room


def set_working_hours(user: Any, clinician_id: int,
                      hours: list[tuple[int, time, time]]) -> list[WorkingHours]:
    """Replace a clinician's weekly hours: (weekday 0 Monday, from, to) in local time."""
    require_calendar(user, clinician_id, edit=True)
    for weekday, starts, ends in hours:
        if not 0 <= weekday <= 6 or not starts < ends:
            raise InvalidSetup({"hours": "Each day's hours start before they end."})
    with db.atomic():
        WorkingHours.delete().where(WorkingHours.clinician == clinician_id).execute()
        rows = [WorkingHours.create(clinician=clinician_id, weekday=weekday,
                                    starts=starts.strftime("%H:%M"),
                                    ends=ends.strftime("%H:%M"))
                for weekday, starts, ends in hours]
        record("update", object_type="working_hours", object_id=clinician_id)
    return rows


def add_time_off(user: Any, clinician_id: int, starts_at: datetime, ends_at: datetime,
                 reason: str = "") -> TimeOff:
    """Time off, in UTC (the page converts from the practice's time zone)."""
    require_calendar(user, clinician_id, edit=True)
    if not starts_at < ends_at:
        raise InvalidSetup({"ends_at": "Time off ends after it starts."})
    with db.atomic():
        leave = TimeOff.create(clinician=clinician_id, starts_at=starts_at, ends_at=ends_at,
                               reason=" ".join(reason.split())[:200])
        record("create", object_type="time_off", object_id=leave.id)
    return leave
