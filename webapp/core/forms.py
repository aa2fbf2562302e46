"""Sign-in and account forms, shared by the staff app and the portal."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(), Length(max=254)],
                           render_kw={"autocomplete": "username", "autofocus": True})
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)],
                             render_kw={"autocomplete": "current-password"})


def _code_field(label: str, required: bool = True) -> StringField:
    return StringField(
        label,
        validators=[DataRequired(message="Enter the code.") if required else Optional(),
                    Length(max=40)],
        description="The 6-digit code your authenticator app shows now, or a recovery code.",
        render_kw={"autocomplete": "one-time-code", "inputmode": "text", "spellcheck": "false",
                   "autocapitalize": "off"})


class CodeForm(FlaskForm):
    """The second sign-in step; the field is named `code` (the issue's contract)."""

    code = _code_field("Code")


class EnrolForm(FlaskForm):
    code = StringField("Code from your app", validators=[
        DataRequired(message="Enter the 6-digit code your app shows."), Length(max=20)],
        description="After adding the account, type the 6-digit code the app shows.",
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"})


class ReauthForm(FlaskForm):
    """Proving it is still you before MFA changes: password, and a code when enrolled."""

    password = PasswordField("Current password", validators=[
        DataRequired(message="Enter your current password."), Length(max=1024)],
        render_kw={"autocomplete": "current-password"})
    code = _code_field("Code from your authenticator app", required=False)


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[
        DataRequired(message="Enter your current password."), Length(max=1024)],
        render_kw={"autocomplete": "current-password"})
    new_password = PasswordField("New password", validators=[
        DataRequired(message="Enter a new password."), Length(max=1024)],
        description="At least the practice's minimum length; a few unrelated words work well.",
        render_kw={"autocomplete": "new-password"})
    confirm_password = PasswordField("New password again", validators=[
        DataRequired(message="Enter the new password a second time."),
        EqualTo("new_password", message="The two new passwords are not the same.")],
        render_kw={"autocomplete": "new-password"})


class ConfirmForm(FlaskForm):
    """A form with only its CSRF token: a POST button (sign out everywhere)."""
