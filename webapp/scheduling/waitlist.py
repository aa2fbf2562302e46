"""The waitlist: clients who want a slot, offered one when an appointment is cancelled.

    entry = add_to_waitlist(user, client_id, clinician_id=None, preferences="Tue mornings")
    openings = matches_for(user, cancelled_appointment)   # what the front desk may offer
    offer(user, entry.id)                                  # recorded; no message is sent yet
"""

from __future__ import annotations

from typing import Any

from appliance.storage import db
from webapp.access.service import AccessDenied, require_access, require_permission
from webapp.audit.service import record
from webapp.core.timeutil import utcnow
from webapp.scheduling.models import AppointmentClient, WaitlistEntry
from webapp.scheduling.recurrence import to_local
from webapp.scheduling.scope import calendar_ids, visible_clients

__all__ = ["WaitlistEntry", "add_to_waitlist", "matches_for", "offer", "open_entries",
           "read_waitlist"]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class InvalidWaitlistEntry(ValueError):
    pass


def add_to_waitlist(user: Any, client_id: int, clinician_id: int | None = None,
                    preferences: str = "") -> WaitlistEntry:
    require_permission(user, "schedule.edit")
    require_access(user, client_id)
    preferences = " ".join(preferences.split())
    if len(preferences) > 200:
        raise InvalidWaitlistEntry("Keep the preferred days and times under 200 characters.")
    with db.atomic():
        entry = WaitlistEntry.create(client=client_id, clinician=clinician_id or None,
                                     preferences=preferences)
        record("create", object_type="waitlist_entry", object_id=entry.id,
               client_id=client_id)
    return entry


def open_entries(user: Any, clinician_id: int | None = None) -> list[WaitlistEntry]:
    """Entries not yet closed, oldest first, for clients `user` may see (and, for a
    clinician, entries for anyone or for a calendar they keep)."""
    query = WaitlistEntry.select().where(WaitlistEntry.closed_at.is_null())
    allowed = calendar_ids(user)
    if clinician_id is not None:
        query = query.where(WaitlistEntry.clinician.is_null()
                            | (WaitlistEntry.clinician == clinician_id))
    elif allowed is not None:
        query = query.where(WaitlistEntry.clinician.is_null()
                            | WaitlistEntry.clinician.in_(allowed))
    entries = list(query.order_by(WaitlistEntry.created_at, WaitlistEntry.id))
    names = visible_clients(user, {entry.client_id for entry in entries})
    for entry in entries:
        entry.client_name = names.get(entry.client_id, "")
    return [entry for entry in entries if entry.client_name]


def read_waitlist(user: Any) -> list[WaitlistEntry]:
    """The waitlist page: it names clients, so reading it is audited."""
    require_permission(user, "schedule.edit")
    entries = open_entries(user)
    record("view", object_type="waitlist")
    return entries


def matches_for(user: Any, appointment: Any, timezone: str = "America/New_York"
                ) -> list[WaitlistEntry]:
    """Open entries that could take the slot: for its clinician or anyone, not already
    in it; those whose preferences name the slot's weekday first."""
    attending = {row.client_id for row in AppointmentClient.select(AppointmentClient.client)
                 .where(AppointmentClient.appointment == appointment.id)}
    weekday = WEEKDAYS[to_local(appointment.starts_at, timezone).weekday()]
    entries = [entry for entry in open_entries(user, appointment.clinician_id)
               if entry.client_id not in attending]
    if entries:
        record("view", object_type="waitlist")
    return sorted(entries, key=lambda entry: weekday not in entry.preferences.lower())


def offer(user: Any, entry_id: int) -> WaitlistEntry:
    """Record that the slot was offered (by phone or in person, for now)."""
    require_permission(user, "schedule.edit")
    entry = WaitlistEntry.get_or_none(WaitlistEntry.id == entry_id)
    if entry is None:
        raise LookupError(entry_id)
    try:
        require_access(user, entry.client_id)
    except AccessDenied:
        raise LookupError(entry_id) from None
    with db.atomic():
        entry.offered_at = utcnow()
        entry.save()
        record("offer", object_type="waitlist_entry", object_id=entry.id,
               client_id=entry.client_id)
    return entry
