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
    # TOTP (migration 5): base32 secret, and the last time step accepted so a
    # code is never accepted twice. An empty secret means not enrolled.
    mfa_secret = peewee.CharField(max_length=64, default="")
    mfa_last_step = peewee.IntegerField(default=0)
    mfa_enrolled_at = peewee.DateTimeField(null=True)
    password_changed_at = peewee.DateTimeField(null=True)
    disabled_at = peewee.DateTimeField(null=True)

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


class RecoveryCode(BaseModel):
    """A single-use MFA recovery code (argon2 hash), for staff or portal accounts."""

    app = peewee.CharField(max_length=10)  # "staff" or "portal"
    principal_id = peewee.IntegerField()
    code_hash = peewee.CharField(max_length=255)
    created_at = peewee.DateTimeField(default=utcnow)
    used_at = peewee.DateTimeField(null=True)

    class Meta:
        indexes = ((("app", "principal_id"), False),)


class PracticeSetting(BaseModel):
    """A setting the admin changes in the console (MFA policy, timeouts, password length)."""

    name = peewee.CharField(max_length=60, primary_key=True)
    value = peewee.TextField()
    updated_at = peewee.DateTimeField(default=utcnow)
    updated_by = peewee.ForeignKeyField(StaffUser, null=True, on_delete="SET NULL")


class Supervision(BaseModel):
    """A supervisor sees the caseloads of the clinicians they supervise."""

    supervisor_id: int
    supervisee_id: int

    supervisor = peewee.ForeignKeyField(StaffUser, backref="supervisees", on_delete="CASCADE")
    supervisee = peewee.ForeignKeyField(StaffUser, backref="supervisors", on_delete="CASCADE")
    started_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("supervisor", "supervisee"), True),)


class StaffInvitation(BaseModel):
    """A one-time link that lets a new staff member set their password (72 hours)."""

    token_hash = peewee.CharField(max_length=64, unique=True)
    username = peewee.CharField(max_length=64)
    full_name = peewee.CharField(max_length=200)
    credentials = peewee.CharField(max_length=60, default="")
    email = peewee.CharField(max_length=254, default="")
    roles = peewee.CharField(max_length=200)
    approved_by = peewee.ForeignKeyField(StaffUser, backref="invitations_approved",
                                         on_delete="RESTRICT")
    reason = peewee.TextField(default="")
    created_at = peewee.DateTimeField(default=utcnow)
    expires_at = peewee.DateTimeField()
    accepted_at = peewee.DateTimeField(null=True)
    revoked_at = peewee.DateTimeField(null=True)
    staff_user = peewee.ForeignKeyField(StaffUser, null=True, backref="invitation",
                                        on_delete="SET NULL")


class AccountChange(BaseModel):
    """Who changed a staff account, what changed and why (roles, disable, MFA reset...)."""

    staff_user = peewee.ForeignKeyField(StaffUser, backref="changes", on_delete="CASCADE")
    changed_by = peewee.ForeignKeyField(StaffUser, null=True, on_delete="SET NULL")
    kind = peewee.CharField(max_length=30)
    detail = peewee.CharField(max_length=400, default="")
    reason = peewee.TextField(default="")
    occurred_at = peewee.DateTimeField(default=utcnow)


class WorkerHeartbeat(BaseModel):
    """The worker writes here every minute so `hearth check` can see it is alive."""

    name = peewee.CharField(max_length=40, primary_key=True)
    beat_at = peewee.DateTimeField(default=utcnow)


def model_fields(instance: peewee.Model) -> dict[str, Any]:
    return {name: getattr(instance, name) for name in instance._meta.sorted_field_names}
