"""Staff accounts, server-side web sessions and the worker's heartbeat."""

from __future__ import annotations

from typing import Any

import peewee
from flask_login import UserMixin

from appliance.storage import db
from webapp.core.timeutil import utcnow


class BaseModel(peewee.Model):
    id: Any  # peewee's implicit AutoField, declared for the type checker only

    class Meta:
        database = db
        legacy_table_names = False


class StaffUser(UserMixin, BaseModel):
    """One person on the practice's staff; accounts are never shared."""

    username = peewee.CharField(max_length=64, unique=True)
    full_name = peewee.CharField(max_length=200)
    credentials = peewee.CharField(max_length=60, default="")  # e.g. "LCSW", "PhD"
    email = peewee.CharField(max_length=254, default="")
    password_hash = peewee.CharField(max_length=255)
    roles = peewee.CharField(max_length=200)  # comma-separated role names
    is_active = peewee.BooleanField(default=True)
    created_at = peewee.DateTimeField(default=utcnow)
    updated_at = peewee.DateTimeField(default=utcnow)
    # Consecutive failed sign-ins, and the lock they earned (migration 4).
    failed_sign_ins = peewee.IntegerField(default=0)
    locked_until = peewee.DateTimeField(null=True)

    @property
    def role_set(self) -> frozenset[str]:
        return frozenset(role for role in self.roles.split(",") if role)

    @property
    def display_name(self) -> str:
        return f"{self.full_name}, {self.credentials}" if self.credentials else self.full_name

    actor_kind = "staff"

    def can(self, permission: str) -> bool:
        from webapp.core.permissions import permissions_for

        return permission in permissions_for(self.role_set)


class WebSession(BaseModel):
    """A signed-in browser. The cookie holds a random token; we keep only its hash."""

    token_hash = peewee.CharField(max_length=64, primary_key=True)
    app = peewee.CharField(max_length=10)  # "staff" or "portal"
    principal_id = peewee.IntegerField(null=True)  # StaffUser or ClientAccount id
    data = peewee.TextField(default="{}")
    created_at = peewee.DateTimeField(default=utcnow)
    last_seen_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("app", "principal_id"), False),)


class SignInThrottle(BaseModel):
    """Failed sign-ins from one address in the current window, per app."""

    app = peewee.CharField(max_length=10)
    address = peewee.CharField(max_length=64)
    failures = peewee.IntegerField()
    window_started_at = peewee.DateTimeField()

    class Meta:
        indexes = ((("app", "address"), True),)


class WorkerHeartbeat(BaseModel):
    """The worker writes here every minute so `hearth check` can see it is alive."""

    name = peewee.CharField(max_length=40, primary_key=True)
    beat_at = peewee.DateTimeField(default=utcnow)


def model_fields(instance: peewee.Model) -> dict[str, Any]:
    return {name: getattr(instance, name) for name in instance._meta.sorted_field_names}
