"""The public page behind a staff invitation link: the invitee chooses a password.

    GET/POST /welcome/<token>

The token is the only credential here (256 bits; only its SHA-256 is stored).
An expired, used, withdrawn or unknown link gets one message, and nothing changes.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import PasswordField
from wtforms.validators import Length

from webapp.core import provisioning
from webapp.core.permissions import public

welcome = Blueprint("welcome", __name__)


class ChoosePasswordForm(FlaskForm):
    password = PasswordField("New password", [Length(max=1024)],
                             render_kw={"autocomplete": "new-password"},
                             description="At least 12 characters; a few unrelated words work "
                                         "well. No other rules.")
    confirm = PasswordField("Type it again", [Length(max=1024)],
                            render_kw={"autocomplete": "new-password"})


@welcome.route("/welcome/<token>", methods=["GET", "POST"])
@public
def accept(token: str) -> Any:
    try:
        invitation = provisioning.usable_invitation(token)
    except provisioning.InvitationUnusable:
        return render_template("core/welcome.html", invitation=None,
                               message=provisioning.UNUSABLE_INVITATION), 410
    if current_user.is_authenticated:
        flash("Sign out first: this link creates a new account.", "error")
        return render_template("core/welcome.html", invitation=None, message=""), 409
    form = ChoosePasswordForm()
    if form.validate_on_submit():
        if form.password.data != form.confirm.data:
            form.confirm.errors = ["The two passwords differ."]
        else:
            try:
                provisioning.accept_invitation(token, form.password.data or "")
            except provisioning.ProvisioningError as exc:
                form.password.errors = [exc.errors.get("password", str(exc))]
            except provisioning.InvitationUnusable:
                return render_template("core/welcome.html", invitation=None,
                                       message=provisioning.UNUSABLE_INVITATION), 410
            else:
                flash("Your account is ready. Sign in with your username and new password.",
                      "success")
                return redirect(url_for("auth.login"))
    status = 400 if form.errors else 200
    return render_template("core/welcome.html", invitation=invitation, form=form), status
