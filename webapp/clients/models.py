"""Client records. Names and contact details are PHI: they never go in logs or URLs."""

from __future__ import annotations

import peewee

from webapp.core.models import BaseModel, StaffUser
from webapp.core.timeutil import utcnow

STATUSES = ("active", "discharged")
CHANNELS = ("email", "sms", "phone", "portal")
SUBSCRIBER_RELATIONSHIPS = ("self", "spouse", "child", "other")
GUARDIAN_RELATIONSHIPS = ("parent", "legal guardian", "grandparent", "foster parent", "other")


class Client(BaseModel):
    legal_first_name = peewee.CharField(max_length=100)
    legal_middle_name = peewee.CharField(max_length=100, default="")
    legal_last_name = peewee.CharField(max_length=100)
    preferred_name = peewee.CharField(max_length=100, default="")
    pronouns = peewee.CharField(max_length=40, default="")
    date_of_birth = peewee.DateField()

    email = peewee.CharField(max_length=254, default="")
    mobile_phone = peewee.CharField(max_length=20, default="")
    home_phone = peewee.CharField(max_length=20, default="")
    preferred_channel = peewee.CharField(max_length=10, default="portal")
    consent_email = peewee.BooleanField(default=False)
    consent_sms = peewee.BooleanField(default=False)
    consent_voicemail = peewee.BooleanField(default=False)

    address_line1 = peewee.CharField(max_length=200, default="")
    address_line2 = peewee.CharField(max_length=200, default="")
    city = peewee.CharField(max_length=100, default="")
    state = peewee.CharField(max_length=2, default="")
    postal_code = peewee.CharField(max_length=10, default="")

    emergency_name = peewee.CharField(max_length=200, default="")
    emergency_relationship = peewee.CharField(max_length=60, default="")
    emergency_phone = peewee.CharField(max_length=20, default="")

    status = peewee.CharField(max_length=12, default="active")
    discharged_on = peewee.DateField(null=True)
    discharge_reason = peewee.CharField(max_length=200, default="")
    created_at = peewee.DateTimeField(default=utcnow)
    updated_at = peewee.DateTimeField(default=utcnow)
    # Lower-case, accent-free names for fragment search (added by migration 2).
    search_text = peewee.CharField(max_length=400, default="", index=True)
    # "last first", folded: the list's order, accents and case aside (migration 3).
    sort_name = peewee.CharField(max_length=200, default="")

    class Meta:
        indexes = ((("date_of_birth", "status", "sort_name"), False),)

    @property
    def display_name(self) -> str:
        first = self.preferred_name or self.legal_first_name
        return f"{first} {self.legal_last_name}"

    @property
    def legal_name(self) -> str:
        middle = f" {self.legal_middle_name}" if self.legal_middle_name else ""
        return f"{self.legal_first_name}{middle} {self.legal_last_name}"


# Covers the client list page: its columns ride in the index (see migration 3).
Client.add_index(Client.index(
    Client.status, Client.sort_name, Client.legal_last_name, Client.legal_first_name,
    Client.preferred_name, Client.pronouns, Client.date_of_birth, Client.mobile_phone,
    name="client_list"))


class Guardian(BaseModel):
    """A parent or guardian of a minor client; may consent on the client's behalf."""

    client = peewee.ForeignKeyField(Client, backref="guardians", on_delete="CASCADE")
    full_name = peewee.CharField(max_length=200)
    relationship = peewee.CharField(max_length=40)
    phone = peewee.CharField(max_length=20, default="")
    email = peewee.CharField(max_length=254, default="")
    has_legal_authority = peewee.BooleanField(default=True)
    created_at = peewee.DateTimeField(default=utcnow)


class InsurancePolicy(BaseModel):
    client = peewee.ForeignKeyField(Client, backref="insurance_policies", on_delete="CASCADE")
    rank = peewee.SmallIntegerField(default=1)  # 1 primary, 2 secondary, 3 tertiary
    payer_name = peewee.CharField(max_length=200)
    payer_id = peewee.CharField(max_length=20, default="")  # electronic payer id
    member_id = peewee.CharField(max_length=40)
    group_number = peewee.CharField(max_length=40, default="")
    subscriber_relationship = peewee.CharField(max_length=10, default="self")
    subscriber_first_name = peewee.CharField(max_length=100, default="")
    subscriber_last_name = peewee.CharField(max_length=100, default="")
    subscriber_date_of_birth = peewee.DateField(null=True)
    effective_on = peewee.DateField(null=True)
    ends_on = peewee.DateField(null=True)
    created_at = peewee.DateTimeField(default=utcnow)


class ClinicianAssignment(BaseModel):
    """Which clinicians have this client on their caseload."""

    client_id: int
    clinician_id: int

    client = peewee.ForeignKeyField(Client, backref="assignments", on_delete="CASCADE")
    clinician = peewee.ForeignKeyField(StaffUser, backref="assignments", on_delete="RESTRICT")
    is_primary = peewee.BooleanField(default=False)
    assigned_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("client", "clinician"), True),)
