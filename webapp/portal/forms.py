"""Forms for portal invitations (staff), enrolment and the portal account pages."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, PasswordField, RadioField, StringField
from wtforms.validators import DataRequired, InputRequired, Length

CODE_HINT = "6 digits"


class InviteForm(FlaskForm):
    # The choices are filled for the page; who may be invited is the service's decision.
    invitee = RadioField("Who to invite", validators=[InputRequired("Choose who to invite.")],
                         choices=[], validate_choice=False)


class ConfirmForm(FlaskForm):
    """A one-button POST (revoke an invitation): only the CSRF token."""


class BirthDateForm(FlaskForm):
    date_of_birth = DateField(
        "The client's date of birth", validators=[InputRequired("Enter the date of birth.")],
        description="The date of birth of the person whose record the portal shows.",
        render_kw={"autocomplete": "off"})


class CodeForm(FlaskForm):
    code = StringField("Code from the e-mail", validators=[DataRequired("Enter the code."),
                                                            Length(max=20)],
                       description=CODE_HINT,
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric",
                                  "autofocus": True})


class NewAccountForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired("Choose a username."),
                                                   Length(max=254)],
                           description="You sign in with this. Your e-mail address is fine.",
                           render_kw={"autocomplete": "username"})
    password = PasswordField("Password", validators=[DataRequired("Choose a password."),
                                                     Length(max=1024)],
                             description="At least 12 characters; a few words you will "
                                         "remember make a good one.",
                             render_kw={"autocomplete": "new-password"})
    password_again = PasswordField("Password again",
                                   validators=[DataRequired("Type the password again."),
                                               Length(max=1024)],
                                   render_kw={"autocomplete": "new-password"})


class ExistingAccountForm(FlaskForm):
    password = PasswordField("Your portal password",
                             validators=[DataRequired("Enter your password."),
                                         Length(max=1024)],
                             render_kw={"autocomplete": "current-password"})


class ChooseClientForm(FlaskForm):
    client_id = IntegerField("Whose record", validators=[InputRequired()])


class TotpOnForm(FlaskForm):
    password = PasswordField("Your password", validators=[DataRequired("Enter your password."),
                                                          Length(max=1024)],
                             render_kw={"autocomplete": "current-password"})
    code = StringField("Code from the app", validators=[DataRequired("Enter the code."),
                                                         Length(max=20)],
                       description=CODE_HINT,
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"})


class TotpOffForm(FlaskForm):
    password = PasswordField("Your password", validators=[DataRequired("Enter your password."),
                                                          Length(max=1024)],
                             render_kw={"autocomplete": "current-password"})
    code = StringField("Code from the app, or a recovery code",
                       validators=[DataRequired("Enter a code."), Length(max=40)],
                       render_kw={"autocomplete": "one-time-code"})
