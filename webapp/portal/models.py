"""Portal sign-in accounts: one per client (or guardian acting for a minor)."""

from __future__ import annotations

import peewee
from flask_login import UserMixin

from webapp.clients.models import Client, Guardian
from webapp.core.models import BaseModel, StaffUser
from webapp.core.timeutil import utcnow


class ClientAccount(UserMixin, BaseModel):
    username = peewee.CharField(max_length=254, unique=True)
    client = peewee.ForeignKeyField(Client, backref="accounts", on_delete="CASCADE")
    password_hash = peewee.CharField(max_length=255)
    is_active = peewee.BooleanField(default=True)
    created_at = peewee.DateTimeField(default=utcnow)
    failed_sign_ins = peewee.IntegerField(default=0)
    locked_until = peewee.DateTimeField(null=True)
    # Optional TOTP for clients (migration 5); empty when not enrolled.
    mfa_secret = peewee.CharField(max_length=64, default="")
    mfa_last_step = peewee.IntegerField(default=0)
    mfa_enrolled_at = peewee.DateTimeField(null=True)
    # The guardian this account belongs to, when a guardian signs in for minors.
    guardian = peewee.ForeignKeyField(Guardian, null=True, on_delete="SET NULL")

    actor_kind = "client"
    guardian_id: int | None

    @property
    def role_set(self) -> frozenset[str]:
        """A guardian signing in for minors is "guardian", so the audit trail tells them apart."""
        return frozenset({"guardian"}) if self.guardian_id else frozenset({"client"})

    def can(self, permission: str) -> bool:
        return False  # portal views declare `signed_in` and scope to the client


class PortalLink(BaseModel):
    """Which clients an account may see: the client themself, or a guardian's minors."""

    account = peewee.ForeignKeyField(ClientAccount, backref="links", on_delete="CASCADE")
    client = peewee.ForeignKeyField(Client, backref="portal_links", on_delete="CASCADE")
    guardian = peewee.ForeignKeyField(Guardian, null=True, on_delete="CASCADE")

    class Meta:
        indexes = ((("account", "client"), True),)


class PortalInvitation(BaseModel):
    """An invitation to the portal, for a client or for one of their guardians.

    Enrolment needs the link, the client's date of birth and a one-time code sent
    to the contact on file; only hashes of the token and the code are kept.
    """

    client_id: int  # peewee's foreign-key ids, declared for the type checker only
    guardian_id: int | None

    client = peewee.ForeignKeyField(Client, backref="portal_invitations", on_delete="CASCADE")
    guardian = peewee.ForeignKeyField(Guardian, null=True, on_delete="CASCADE")
    token_hash = peewee.CharField(max_length=64, unique=True)
    sent_to = peewee.CharField(max_length=254)
    invited_by = peewee.ForeignKeyField(StaffUser, on_delete="RESTRICT")
    created_at = peewee.DateTimeField(default=utcnow)
    expires_at = peewee.DateTimeField()
    code_hash = peewee.CharField(max_length=255, default="")
    code_expires_at = peewee.DateTimeField(null=True)
    attempts = peewee.IntegerField(default=0)
    accepted_at = peewee.DateTimeField(null=True)
    revoked_at = peewee.DateTimeField(null=True)
    account = peewee.ForeignKeyField(ClientAccount, null=True, on_delete="SET NULL")
