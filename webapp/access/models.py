"""Break-glass grants: time-limited access to a client outside the usual scope."""

from __future__ import annotations

import peewee

from webapp.clients.models import Client
from webapp.core.models import BaseModel, StaffUser
from webapp.core.timeutil import utcnow


class BreakGlassGrant(BaseModel):
    """One emergency opening of a client's record, with its reason; stays in the
    review queue until an admin or supervisor marks it reviewed."""

    staff_user_id: int
    client_id: int

    staff_user = peewee.ForeignKeyField(StaffUser, backref="break_glass_grants",
                                        on_delete="RESTRICT")
    client = peewee.ForeignKeyField(Client, backref="break_glass_grants", on_delete="CASCADE")
    reason = peewee.TextField()
    started_at = peewee.DateTimeField(default=utcnow)
    expires_at = peewee.DateTimeField()
    reviewed_by = peewee.ForeignKeyField(StaffUser, null=True, on_delete="SET NULL")
    reviewed_at = peewee.DateTimeField(null=True)
    review_note = peewee.TextField(default="")

    class Meta:
        indexes = (
            (("staff_user", "client", "expires_at"), False),
            (("reviewed_at", "started_at"), False),
        )
