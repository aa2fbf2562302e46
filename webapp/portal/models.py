"""Portal sign-in accounts: one per client (or guardian acting for a minor)."""

from __future__ import annotations

import peewee
from flask_login import UserMixin

from webapp.clients.models import Client
from webapp.core.models import BaseModel
from webapp.core.timeutil import utcnow


class ClientAccount(UserMixin, BaseModel):
    username = peewee.CharField(max_length=254, unique=True)
    client = peewee.ForeignKeyField(Client, backref="accounts", on_delete="CASCADE")
    password_hash = peewee.CharField(max_length=255)
    is_active = peewee.BooleanField(default=True)
    created_at = peewee.DateTimeField(default=utcnow)
    failed_sign_ins = peewee.IntegerField(default=0)
    locked_until = peewee.DateTimeField(null=True)

    actor_kind = "client"
    role_set = frozenset({"client"})

    def can(self, permission: str) -> bool:
        return False  # portal views declare `signed_in` and scope to the client
