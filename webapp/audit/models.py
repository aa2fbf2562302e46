"""Audit entries: ids and codes only, never names or clinical text."""

from __future__ import annotations

import peewee

from webapp.core.models import BaseModel
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

    class Meta:
        indexes = (
            (("client_id", "occurred_at"), False),
            (("actor_id", "occurred_at"), False),
            (("occurred_at",), False),
        )
