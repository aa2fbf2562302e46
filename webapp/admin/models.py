"""The business associates register: every outside party that may touch PHI."""

from __future__ import annotations

import peewee

from webapp.core.models import BaseModel, StaffUser
from webapp.core.timeutil import utcnow

BAA_STATUSES = ("missing", "requested", "signed", "not_required", "expired")


class BusinessAssociate(BaseModel):
    vendor = peewee.CharField(max_length=200)
    service = peewee.CharField(max_length=200)
    touches_phi = peewee.BooleanField(default=True)
    baa_status = peewee.CharField(max_length=20, default="missing")
    baa_signed_on = peewee.DateField(null=True)
    review_due_on = peewee.DateField(null=True)
    notes = peewee.TextField(default="")
    # Set when Hearth added the entry itself for a configured service (e.g. "smtp").
    config_key = peewee.CharField(max_length=60, null=True, unique=True)
    created_at = peewee.DateTimeField(default=utcnow)
    updated_at = peewee.DateTimeField(default=utcnow)


class BusinessAssociateDocument(BaseModel):
    """The signed agreement or due-diligence papers, kept in the encrypted database."""

    business_associate = peewee.ForeignKeyField(BusinessAssociate, backref="documents",
                                                on_delete="CASCADE")
    kind = peewee.CharField(max_length=20)  # "agreement" or "due_diligence"
    filename = peewee.CharField(max_length=200)
    content_type = peewee.CharField(max_length=100)
    content = peewee.BlobField()
    uploaded_at = peewee.DateTimeField(default=utcnow)
    uploaded_by = peewee.ForeignKeyField(StaffUser, null=True, on_delete="SET NULL")
