"""Forms for client records. Types and presence here; the rules live in the service."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    Field,
    HiddenField,
    SelectField,
    StringField,
    TelField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from webapp.clients.models import GUARDIAN_RELATIONSHIPS, SUBSCRIBER_RELATIONSHIPS

CHANNEL_CHOICES = [("portal", "Portal message"), ("email", "E-mail"),
                   ("sms", "Text message"), ("phone", "Phone call")]
STATE_HELP = "Two letters, e.g. NY"


class Mandatory:
    """Marks a field required on the page; the service checks it, so every error shows at once."""

    field_flags = {"required": True}

    def __call__(self, form: FlaskForm, field: Field) -> None:
        return None


class ClientForm(FlaskForm):
    legal_first_name = StringField("Legal first name", [Mandatory()])
    legal_middle_name = StringField("Middle name")
    legal_last_name = StringField("Legal last name", [Mandatory()])
    preferred_name = StringField("Preferred name", [Length(max=100)],
                                 description="What the practice calls them, if different.")
    pronouns = StringField("Pronouns", [Length(max=40)], description="e.g. she/her, they/them")
    date_of_birth = DateField("Date of birth", [Optional(), Mandatory()])

    email = EmailField("E-mail", [Length(max=254)])
    mobile_phone = TelField("Mobile phone", [Length(max=20)])
    home_phone = TelField("Home phone", [Length(max=20)])
    preferred_channel = SelectField("Preferred way to reach them", choices=CHANNEL_CHOICES)
    consent_email = BooleanField("May e-mail (reminders and notices)")
    consent_sms = BooleanField("May text the mobile number")
    consent_voicemail = BooleanField("May leave a voicemail")

    address_line1 = StringField("Address", [Length(max=200)])
    address_line2 = StringField("Address line 2", [Length(max=200)])
    city = StringField("City", [Length(max=100)])
    state = StringField("State", [Length(max=2)], description=STATE_HELP)
    postal_code = StringField("ZIP code", [Length(max=10)])

    emergency_name = StringField("Emergency contact", [Length(max=200)])
    emergency_relationship = StringField("Relationship", [Length(max=60)])
    emergency_phone = TelField("Emergency phone", [Length(max=20)])

    confirm_not_duplicate = BooleanField("This is a different person; save anyway")


class DischargeForm(FlaskForm):
    discharged_on = DateField("Discharge date", [InputRequired()])
    reason = StringField("Reason", [DataRequired(), Length(max=200)])


class GuardianForm(FlaskForm):
    full_name = StringField("Full name", [DataRequired(), Length(max=200)])
    relationship = SelectField("Relationship",
                               choices=[(r, r.capitalize()) for r in GUARDIAN_RELATIONSHIPS])
    phone = TelField("Phone", [Length(max=20)])
    email = EmailField("E-mail", [Length(max=254)])
    has_legal_authority = BooleanField("Can consent to treatment for the client", default=True)


class InsuranceForm(FlaskForm):
    rank = SelectField("Order", choices=[("1", "Primary"), ("2", "Secondary"),
                                         ("3", "Tertiary")])
    payer_name = StringField("Insurance company (payer)", [DataRequired(), Length(max=200)])
    payer_id = StringField("Payer ID", [Length(max=20)],
                           description="Electronic payer id, if known")
    member_id = StringField("Member ID", [DataRequired(), Length(max=40)])
    group_number = StringField("Group number", [Length(max=40)])
    subscriber_relationship = SelectField(
        "Client's relationship to the subscriber",
        choices=[(r, r.capitalize()) for r in SUBSCRIBER_RELATIONSHIPS])
    subscriber_first_name = StringField("Subscriber first name", [Length(max=100)])
    subscriber_last_name = StringField("Subscriber last name", [Length(max=100)])
    subscriber_date_of_birth = DateField("Subscriber date of birth", [Optional()])
    effective_on = DateField("Effective from", [Optional()])
    ends_on = DateField("Ends on", [Optional()])


class AssignClinicianForm(FlaskForm):
    clinician_id = SelectField("Clinician", coerce=int, choices=[])
    is_primary = BooleanField("Primary clinician")


class ClientSearchForm(FlaskForm):
    """Checks a posted search; the list page writes its small form by hand (it is the
    busiest page, and rendering widgets costs a third of its template time)."""

    q = StringField("Search by name or date of birth", [Length(max=100)])


class ConfirmForm(FlaskForm):
    """A bare form for POST-only buttons, so they carry a CSRF token."""

    target = HiddenField()
