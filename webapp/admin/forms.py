"""Forms for the admin console. Types and presence here; the rules live in the services."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    widgets,
)
from wtforms.validators import Length, Optional

from webapp.admin.models import BAA_STATUSES
from webapp.admin.service import DOCUMENT_KINDS, STATUS_LABELS
from webapp.core.permissions import ROLES
from webapp.core.practice_settings import DEFINITIONS
from webapp.core.provisioning import ROLE_LABELS

ROLE_CHOICES = [(role, ROLE_LABELS[role]) for role in ROLES]


class CheckboxesField(SelectMultipleField):
    """A group of checkboxes (one per choice), each with its own label."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()

    def pre_validate(self, form: Any) -> None:
        return None  # the service names an unknown choice in its own words


def _reason(label: str = "Reason") -> TextAreaField:
    return TextAreaField(label, [Length(max=1000)],
                         description="Kept with the change in the account's history.")


class ConfirmForm(FlaskForm):
    """A one-button action: only the CSRF token."""


class InviteForm(FlaskForm):
    username = StringField("Username", [Length(max=64)],
                           description="Lower-case letters, digits, dots or dashes; e.g. rlee.")
    full_name = StringField("Full name", [Length(max=200)])
    credentials = StringField("Credentials", [Length(max=60)], description="e.g. LCSW, PhD")
    email = EmailField("E-mail", [Length(max=254)])
    roles = CheckboxesField("Roles", choices=ROLE_CHOICES)
    reason = _reason("Why this person needs an account")


class RolesForm(FlaskForm):
    roles = CheckboxesField("Roles", choices=ROLE_CHOICES)
    reason = _reason("Why the roles change")


class ReasonForm(FlaskForm):
    reason = _reason()


class SuperviseesForm(FlaskForm):
    supervisees = CheckboxesField("Clinicians this person supervises", coerce=int, choices=[])
    reason = _reason("Reason (optional)")


class BusinessAssociateForm(FlaskForm):
    vendor = StringField("Vendor", [Length(max=200)])
    service = StringField("Service they provide", [Length(max=200)])
    touches_phi = BooleanField("Creates, receives, keeps or sends PHI for the practice")
    baa_status = SelectField("BAA status", choices=[(status, STATUS_LABELS[status])
                                                    for status in BAA_STATUSES])
    baa_signed_on = DateField("Signed on", [Optional()])
    review_due_on = DateField("Review due", [Optional()],
                              description="When to look at the agreement again.")
    notes = TextAreaField("Notes", [Length(max=4000)])


class DocumentForm(FlaskForm):
    kind = SelectField("Document", choices=list(DOCUMENT_KINDS.items()))
    document = FileField("File (PDF, PNG or JPEG, up to 10 MB)")


def settings_form(values: dict[str, str]) -> FlaskForm:
    """A form with one text field per practice setting, labelled from its definition."""

    class PracticeSettingsForm(FlaskForm):
        pass

    for name, definition in DEFINITIONS.items():
        setattr(PracticeSettingsForm, name,
                StringField(definition.label, [Length(max=500)], description=definition.help,
                            default=values.get(name, definition.default)))
    return PracticeSettingsForm()
