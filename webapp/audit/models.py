"""Audit entries: ids and codes only, never names or clinical text."""

from __future__ import annotations

import peewee

from webapp.core.models import BaseModel, StaffUser
from webapp.core.timeutil import utcnow


class AuditEntry(BaseModel):
    occurred_at = peewee.DateTimeField(default=utcnow)
    actor_kind = peewee.CharField(max_length=10)  # staff, client, system, anonymous
    actor_id = peewee.IntegerField(null=True)
    actor_role = peewee.CharField(max_length=60, default="")
    action = peewee.CharField(max_length=40)
    object_type = peewee.CharField(max_length=40, default="")
    object_id = peewee.IntegerField(null=True)
    client_id = peewee.IntegerField(null=True)
    source_address = peewee.CharField(max_length=64, default="")
    request_id = peewee.CharField(max_length=40, default="")
    outcome = peewee.CharField(max_length=20, default="success")
    # HMAC-SHA256 (hex) over the previous entry's mac and this entry's canonical
    # form, keyed with audit.key (migration 6): the chain `hearth audit verify` walks.
    mac = peewee.CharField(max_length=64, default="")

    class Meta:
        indexes = (
            (("client_id", "occurred_at"), False),
            (("actor_id", "occurred_at"), False),
            (("occurred_at",), False),
            (("action", "occurred_at"), False),
            (("object_type", "object_id"), False),
        )


class AuditCheckpoint(BaseModel):
    """The chain head at a moment (hourly, at a backup, or where pruning cut the chain).

    `signature` is an HMAC over the other fields with the audit key, so a
    checkpoint cannot be forged by someone who can only write the database.
    A "prune" checkpoint is where verification starts after old entries went.
    """

    kind = peewee.CharField(max_length=10)  # "hourly", "backup", "prune", "manual"
    entry_id = peewee.IntegerField()  # the last entry it covers
    mac = peewee.CharField(max_length=64)  # that entry's mac
    entry_count = peewee.IntegerField()  # entries from the chain's start to entry_id
    created_at = peewee.DateTimeField(default=utcnow)
    signature = peewee.CharField(max_length=64)

    class Meta:
        indexes = ((("kind", "entry_id"), False),)


class RetentionPolicy(BaseModel):
    """How long one kind of record is kept; a lowered audit retention needs a reason."""

    kind = peewee.CharField(max_length=40, primary_key=True)
    years = peewee.IntegerField()
    override_reason = peewee.TextField(default="")
    updated_at = peewee.DateTimeField(default=utcnow)
    updated_by = peewee.ForeignKeyField(StaffUser, null=True, on_delete="SET NULL")


class DestructionRecord(BaseModel):
    """What was destroyed, by whom and why: ids and a content hash, never the content."""

    object_type = peewee.CharField(max_length=40)
    object_id = peewee.IntegerField()
    client_id = peewee.IntegerField(null=True)
    content_hash = peewee.CharField(max_length=64)
    reason = peewee.TextField()
    destroyed_by = peewee.ForeignKeyField(StaffUser, null=True, on_delete="SET NULL")
    destroyed_at = peewee.DateTimeField(default=utcnow)


class RetentionRun(BaseModel):
    """What one run of the retention task did, for the console."""

    started_at = peewee.DateTimeField(default=utcnow)
    finished_at = peewee.DateTimeField(null=True)
    summary = peewee.TextField(default="")  # counts per kind, no PHI
