"""Forms for reviewing the trail. The filters travel in the URL, so they hold ids and
codes only; looking a client up by name is a POSTed form of its own."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import DateField, Form, IntegerField, StringField
from wtforms.validators import DataRequired, Length, Optional, Regexp, ValidationError

from webapp.audit.review import OUTCOMES

_CODE = Regexp(r"^[a-z][a-z0-9_.]*$", message="Lower-case letters, digits, dots and "
               "underscores only, e.g. view or clinical_note.")


def _record_id(form: Any, field: Any) -> None:
    # A value that is not a number already has its own message; say nothing more.
    if field.data is not None and not 1 <= field.data < 2**62:
        raise ValidationError("A record id is a whole number from 1 up.")


_ID = [Optional(), _record_id]


class PeriodForm(Form):
    """A date range in the practice's time zone, any length, either end open."""

    date_from = DateField("From", [Optional()], description="First day included.")
    date_to = DateField("To", [Optional()], description="Last day included.")

    def validate(self, extra_validators: Any = None) -> bool:
        ok = super().validate(extra_validators)
        first, last = self.date_from.data, self.date_to.data
        if ok and first and last and first > last:
            self.date_to.errors = ["The end of the period comes before its start."]
            return False
        return ok


class TrailFilterForm(PeriodForm):
    """Read from the query string (GET): no CSRF token, nothing that names a client."""

    user = StringField("Staff member", [Optional(), Length(max=64)],
                       description="Username or staff id.")
    client = IntegerField("Client id", _ID)
    action = StringField("Action", [Optional(), Length(max=40), _CODE])
    object_type = StringField("Object type", [Optional(), Length(max=40), _CODE])
    object_id = IntegerField("Object id", _ID)
    outcome = StringField("Outcome", [Optional(), Length(max=20), _CODE],
                          description="e.g. " + ", ".join(OUTCOMES) + ".")

    def validate(self, extra_validators: Any = None) -> bool:
        ok = super().validate(extra_validators)
        if ok and self.object_id.data is not None and not self.object_type.data:
            self.object_id.errors = ["Give the object type with an object id."]
            return False
        return ok


class FindClientForm(FlaskForm):
    """A client's name, posted (never in a URL), to find their id."""

    name = StringField("Client's name or date of birth", [DataRequired(
        message="Type part of the client's name, or their date of birth."), Length(max=100)])
