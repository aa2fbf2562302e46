"""Immutable revisions: every change to a record kept, so alterations can be seen."""

from __future__ import annotations

import peewee

from webapp.core.models import BaseModel
from webapp.core.timeutil import utcnow


class Revision(BaseModel):
    """One version of one record: who, when, what changed, and a hash of the content.

    `snapshot` and `changes` hold the record's fields (PHI, inside the encrypted
    database, never in the audit trail); rows are only ever inserted.
    """

    object_type = peewee.CharField(max_length=40)
    object_id = peewee.IntegerField()
    version = peewee.IntegerField()
    actor_kind = peewee.CharField(max_length=10)
    actor_id = peewee.IntegerField(null=True)
    created_at = peewee.DateTimeField(default=utcnow)
    snapshot = peewee.TextField()  # canonical JSON of every field at this version
    changes = peewee.TextField(default="{}")  # JSON: field -> [before, after]
    content_hash = peewee.CharField(max_length=64)  # SHA-256 of snapshot

    class Meta:
        indexes = ((("object_type", "object_id", "version"), True),)
