"""Scheduling: appointment types, rooms, appointments and their clients, recurring series,
clinicians' working hours and time off, and the waitlist.

Times are naive UTC (`starts_at`, `ends_at`); the practice enters and reads them in its
own time zone. A series keeps its first start in local wall-clock time, so a weekly
10:00 session stays at 10:00 across daylight-saving changes.
"""

from __future__ import annotations

import peewee

from webapp.clients.models import Client
from webapp.core.models import BaseModel, StaffUser
from webapp.core.timeutil import utcnow

# Psychotherapy codes (DOMAIN.md) an appointment type may bill by default; add-on codes
# (+90785, +9083x, +90840) go with another code, so they are not a type's default.
CPT_CODES = ("90791", "90792", "90832", "90834", "90837", "90839", "90846", "90847",
             "90849", "90853")
# Telehealth (95 audio+video, 93 audio only, GT legacy) and common payer modifiers.
MODIFIERS = ("95", "93", "GT", "HO", "HN", "AH", "AJ", "59")
MODALITIES = ("in_person", "video")
FORMATS = ("individual", "couples", "family", "group")
# How many clients each format seats, at least and at most.
FORMAT_CLIENTS = {"individual": (1, 1), "couples": (2, 2), "family": (1, 12), "group": (1, 12)}

STATUSES = ("scheduled", "confirmed", "arrived", "attended", "cancelled_client",
            "cancelled_practice", "late_cancelled", "no_show")
STATUS_LABELS = {
    "scheduled": "Scheduled", "confirmed": "Confirmed", "arrived": "Arrived",
    "attended": "Attended", "cancelled_client": "Cancelled by client",
    "cancelled_practice": "Cancelled by practice", "late_cancelled": "Late-cancelled",
    "no_show": "No-show",
}
# Statuses that hold the time: the clinician, room and clients are busy.
BOOKED = ("scheduled", "confirmed", "arrived", "attended")
CANCELLED = ("cancelled_client", "cancelled_practice", "late_cancelled")
# A reason is required for these: billing's no-show fee rule reads it.
NEEDS_REASON = (*CANCELLED, "no_show")


class AppointmentType(BaseModel):
    """A kind of session the practice offers, with its defaults."""

    name = peewee.CharField(max_length=80, unique=True)
    duration_minutes = peewee.IntegerField(default=50)
    cpt_code = peewee.CharField(max_length=5, default="")
    modifiers = peewee.CharField(max_length=20, default="")  # comma-separated, up to 4
    modality = peewee.CharField(max_length=10, default="in_person")
    format = peewee.CharField(max_length=12, default="individual")
    colour = peewee.CharField(max_length=7, default="#4a6fa5")
    active = peewee.BooleanField(default=True)


class Room(BaseModel):
    name = peewee.CharField(max_length=80, unique=True)
    active = peewee.BooleanField(default=True)


class Series(BaseModel):
    """A recurring appointment: an RRULE (without COUNT) from a local first start."""

    clinician_id: int

    clinician = peewee.ForeignKeyField(StaffUser, backref="series", on_delete="RESTRICT")
    rrule = peewee.CharField(max_length=200)  # e.g. "FREQ=WEEKLY;INTERVAL=2"
    starts_local = peewee.DateTimeField()  # wall-clock time in `timezone`
    timezone = peewee.CharField(max_length=60)
    count = peewee.IntegerField()  # occurrences generated so far
    created_at = peewee.DateTimeField(default=utcnow)


class Appointment(BaseModel):
    clinician_id: int
    room_id: int | None
    appointment_type_id: int
    series_id: int | None

    clinician = peewee.ForeignKeyField(StaffUser, backref="appointments", on_delete="RESTRICT",
                                       index=False)  # leads (clinician, starts_at)
    room = peewee.ForeignKeyField(Room, null=True, backref="appointments", on_delete="RESTRICT",
                                  index=False)
    appointment_type = peewee.ForeignKeyField(AppointmentType, backref="appointments",
                                              on_delete="RESTRICT")
    starts_at = peewee.DateTimeField()  # UTC
    ends_at = peewee.DateTimeField()  # UTC
    status = peewee.CharField(max_length=20, default="scheduled")
    status_reason = peewee.CharField(max_length=200, default="")
    status_changed_at = peewee.DateTimeField(null=True)
    series = peewee.ForeignKeyField(Series, null=True, backref="appointments",
                                    on_delete="SET NULL", index=False)
    occurrence_index = peewee.IntegerField(null=True)
    # Booked outside working hours or during time off: who said so and why.
    override_reason = peewee.CharField(max_length=200, default="")
    created_at = peewee.DateTimeField(default=utcnow)
    updated_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = (
            (("clinician", "starts_at"), False),  # a clinician's day and week
            (("room", "starts_at"), False),  # room conflicts
            (("starts_at",), False),  # the front desk's day
            (("series", "occurrence_index"), False),
        )


class AppointmentClient(BaseModel):
    """Who attends: one client, a couple, a family or a group of up to 12."""

    appointment_id: int
    client_id: int

    appointment = peewee.ForeignKeyField(Appointment, backref="attendees",
                                         on_delete="CASCADE", index=False)
    client = peewee.ForeignKeyField(Client, backref="appointments", on_delete="RESTRICT",
                                    index=False)

    class Meta:
        indexes = (
            (("appointment", "client"), True),
            (("client", "appointment"), False),  # a client's conflicts
        )


class SeriesException(BaseModel):
    """An occurrence that no longer follows its series' rule: skipped or moved."""

    series = peewee.ForeignKeyField(Series, backref="exceptions", on_delete="CASCADE",
                                    index=False)
    occurrence_index = peewee.IntegerField()
    kind = peewee.CharField(max_length=10)  # "skipped" or "moved"
    original_starts_at = peewee.DateTimeField()  # UTC, where the rule put it
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("series", "occurrence_index"), True),)


class WorkingHours(BaseModel):
    """When a clinician sees clients on a weekday (0 Monday), in local time "HH:MM"
    (text: the database driver has no adapter for a bare time of day)."""

    clinician = peewee.ForeignKeyField(StaffUser, backref="working_hours",
                                       on_delete="CASCADE", index=False)
    weekday = peewee.SmallIntegerField()
    starts = peewee.CharField(max_length=5)
    ends = peewee.CharField(max_length=5)

    class Meta:
        indexes = ((("clinician", "weekday"), False),)


class TimeOff(BaseModel):
    clinician = peewee.ForeignKeyField(StaffUser, backref="time_off", on_delete="CASCADE",
                                       index=False)
    starts_at = peewee.DateTimeField()  # UTC
    ends_at = peewee.DateTimeField()  # UTC
    reason = peewee.CharField(max_length=200, default="")

    class Meta:
        indexes = ((("clinician", "starts_at"), False),)


class WaitlistEntry(BaseModel):
    """A client who wants a slot (with anyone, or with one clinician)."""

    client_id: int
    client_name: str  # set by the waitlist service for the pages; not a column

    client = peewee.ForeignKeyField(Client, backref="waitlist_entries", on_delete="CASCADE")
    clinician = peewee.ForeignKeyField(StaffUser, null=True, backref="waitlist_entries",
                                       on_delete="SET NULL")
    preferences = peewee.CharField(max_length=200, default="")  # e.g. "Tue/Thu mornings"
    created_at = peewee.DateTimeField(default=utcnow)
    offered_at = peewee.DateTimeField(null=True)
    closed_at = peewee.DateTimeField(null=True)

    class Meta:
        indexes = ((("closed_at", "created_at"), False),)


MODELS = [AppointmentType, Room, Series, Appointment, AppointmentClient, SeriesException,
          WorkingHours, TimeOff, WaitlistEntry]
