"""Forms for the calendar. Types and presence here; the rules live in the service."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TimeField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from webapp.scheduling.models import STATUS_LABELS

REPEAT_CHOICES = [("none", "Does not repeat"), ("weekly", "Every week"),
                  ("every_n_weeks", "Every few weeks"), ("monthly", "Every month")]
SCOPE_CHOICES = [("this", "This appointment only"), ("following", "This and following"),
                 ("all", "All in the series")]
CANCEL_CHOICES = [(status, STATUS_LABELS[status]) for status in
                  ("cancelled_client", "cancelled_practice", "late_cancelled")]
STATUS_CHOICES = [(status, STATUS_LABELS[status]) for status in
                  ("scheduled", "confirmed", "arrived", "attended", "no_show")]


class AppointmentForm(FlaskForm):
    clinician_id = SelectField("Clinician", coerce=int, choices=[])
    appointment_type_id = SelectField("Type", coerce=int, choices=[])
    client_ids = SelectMultipleField("Clients", coerce=int, choices=[],
                                     description="One client; two for couples; "
                                                 "up to 12 for a family or group.")
    room_id = SelectField("Room", coerce=int, choices=[])
    date = DateField("Date", [InputRequired()])
    start_time = TimeField("Start time", [InputRequired()])
    duration_minutes = IntegerField("Length (minutes)", [Optional(), NumberRange(5, 480)],
                                    description="Leave empty for the type's usual length.")
    repeat = SelectField("Repeats", choices=REPEAT_CHOICES, default="none")
    interval = IntegerField("Every how many weeks", [Optional(), NumberRange(2, 8)])
    count = IntegerField("How many appointments", [Optional(), NumberRange(2, 52)],
                         description="Up to 52; a series can be extended later.")
    scope = SelectField("Change", choices=SCOPE_CHOICES, default="this")
    override_reason = StringField(
        "Book anyway: reason", [Length(max=200)],
        description="Only when outside working hours or during time off; it is recorded.")


class StatusForm(FlaskForm):
    status = SelectField("Status", choices=STATUS_CHOICES)
    reason = StringField("Reason", [Length(max=200)],
                         description="Needed for a no-show.")


class CancelForm(FlaskForm):
    status = SelectField("Cancelled by", choices=CANCEL_CHOICES)
    reason = StringField("Reason", [InputRequired(), Length(max=200)])
    scope = SelectField("Cancel", choices=SCOPE_CHOICES, default="this")


class OfferForm(FlaskForm):
    """A POST-only button: the slot was offered to this waitlist entry."""


WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class WorkingHoursForm(FlaskForm):
    """From and to for each weekday, "HH:MM" in the practice's time; both empty: not working.
    Fields `day0_from`, `day0_to` ... `day6_to` are added below."""


for _index, _name in enumerate(WEEKDAY_NAMES):
    setattr(WorkingHoursForm, f"day{_index}_from", StringField(f"{_name} from", [Length(max=5)]))
    setattr(WorkingHoursForm, f"day{_index}_to", StringField(f"{_name} to", [Length(max=5)]))


class TimeOffForm(FlaskForm):
    starts_on = DateField("From (date)", [InputRequired()])
    starts_time = TimeField("From (time)", [Optional()],
                            description="Empty: from the start of the day.")
    ends_on = DateField("To (date)", [InputRequired()])
    ends_time = TimeField("To (time)", [Optional()], description="Empty: to the end of the day.")
    reason = StringField("Reason", [Length(max=200)], description="Seen by schedulers.")


class WaitlistForm(FlaskForm):
    client_id = SelectField("Client", coerce=int, choices=[])
    clinician_id = SelectField("With", coerce=int, choices=[])
    preferences = StringField("Preferred days and times", [Length(max=200)],
                              description="e.g. Tue/Thu mornings; a weekday named here "
                                          "puts the client first when that day opens.")
