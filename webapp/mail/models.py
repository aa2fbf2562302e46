"""Outgoing e-mail: queued here, sent by the worker, or kept as the outbox in development."""

from __future__ import annotations

import peewee

from webapp.core.models import BaseModel
from webapp.core.timeutil import utcnow


class OutgoingMail(BaseModel):
    purpose = peewee.CharField(max_length=40)  # e.g. "portal_code"; never PHI
    to_address = peewee.CharField(max_length=254)
    subject = peewee.CharField(max_length=200)  # never PHI
    body = peewee.TextField()
    created_at = peewee.DateTimeField(default=utcnow)
    sent_at = peewee.DateTimeField(null=True)
    attempts = peewee.IntegerField(default=0)
    last_error = peewee.CharField(max_length=400, default="")

    class Meta:
        indexes = ((("sent_at", "created_at"), False),)
