"""Clinical notes. The clinical-documentation issue adds templates and versions."""

from __future__ import annotations

import peewee

from webapp.clients.models import Client
from webapp.core.models import BaseModel, StaffUser
from webapp.core.timeutil import utcnow

NOTE_STATUSES = ("draft", "signed")


class ClinicalNote(BaseModel):
    client = peewee.ForeignKeyField(Client, backref="notes", on_delete="RESTRICT")
    author = peewee.ForeignKeyField(StaffUser, backref="notes", on_delete="RESTRICT")
    kind = peewee.CharField(max_length=30, default="progress")
    session_date = peewee.DateField()
    body = peewee.TextField(default="")
    status = peewee.CharField(max_length=10, default="draft")
    signed_at = peewee.DateTimeField(null=True)
    created_at = peewee.DateTimeField(default=utcnow)
    updated_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("client", "session_date"), False),)
