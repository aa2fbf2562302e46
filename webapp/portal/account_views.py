"""The portal account's sign-in security: optional two-step sign-in (TOTP).

Turning it on shows a QR code drawn on the box and the secret in text; the
secret waits in the server-side session until a code from the app (and the
password) confirms it, and the recovery codes are shown once. Turning it off
asks for the password and a current code (or a recovery code).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, session, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from webapp.core import mfa
from webapp.core.permissions import SIGNED_IN, requires
from webapp.portal import service
from webapp.portal.forms import TotpOffForm, TotpOnForm

my_account = Blueprint("my_account", __name__, url_prefix="/my-account",
                       template_folder="templates")

PENDING_KEY = "portal_totp_pending"


@my_account.get("/")
@requires(SIGNED_IN)
def show() -> str:
    return render_template("portal/account.html", enrolled=bool(current_user.mfa_secret),
                           codes_left=service.recovery_codes_left(current_user),
                           off_form=TotpOffForm())


@my_account.route("/two-step", methods=["GET", "POST"])
@requires(SIGNED_IN)
def turn_on() -> Any:
    if current_user.mfa_secret:
        flash("Two-step sign-in is already on.", "info")
        return redirect(url_for("portal.my_account.show"))
    secret = session.get(PENDING_KEY) or ""
    if not secret:
        secret = session[PENDING_KEY] = mfa.new_secret()
    form = TotpOnForm()
    if form.validate_on_submit():
        try:
            codes = service.turn_on_totp(current_user, secret, form.password.data,
                                         form.code.data)
        except service.TotpError as exc:
            flash(str(exc), "error")
        else:
            session.pop(PENDING_KEY, None)
            return render_template("portal/recovery_codes.html", codes=codes)
    practice = current_app.config["HEARTH_SETTINGS"].practice_name
    grouped = " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))
    status = 422 if form.is_submitted() else 200
    return render_template("portal/two_step_on.html", form=form, secret=grouped,
                           qr=service.enrolment_qr(current_user, secret, practice)), status


@my_account.post("/two-step/off")
@requires(SIGNED_IN)
def turn_off() -> Response | tuple[str, int]:
    form = TotpOffForm()
    if form.validate_on_submit():
        try:
            service.turn_off_totp(current_user, form.password.data, form.code.data)
        except service.TotpError as exc:
            flash(str(exc), "error")
        else:
            flash("Two-step sign-in is off.", "success")
            return redirect(url_for("portal.my_account.show"))
    return render_template("portal/account.html", enrolled=bool(current_user.mfa_secret),
                           codes_left=service.recovery_codes_left(current_user),
                           off_form=form), 422
