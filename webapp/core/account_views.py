"""A staff member's own account: password, sign out everywhere, two-step sign-in.

    /account                       status, change password, sign out everywhere
    /account/mfa                   enrol (QR + secret, confirm with a code), or manage
    /account/mfa/reset             turn TOTP off or move to a new app (re-authenticate)
    /account/mfa/recovery-codes    new recovery codes (re-authenticate)

The secret being enrolled waits in the server-side session until a code confirms
it; recovery codes are shown once, in the answer to the POST that made them.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, session, url_for
from flask_login import current_user, logout_user

from webapp.core import accounts, mfa
from webapp.core.forms import ConfirmForm, EnrolForm, PasswordChangeForm, ReauthForm
from webapp.core.permissions import SIGNED_IN, requires
from webapp.core.practice_settings import mfa_required
from webapp.core.security import held_for_enrolment, open_before_enrolment
from webapp.core.sessions import ServerSession

account = Blueprint("account", __name__)

APP = "staff"
PENDING_SECRET = "mfa_new_secret"  # noqa: S105 (a session key name)


def _settings() -> Any:
    return current_app.config["HEARTH_SETTINGS"]


def _account_page(status: int = 200, **forms: Any) -> Any:
    forms.setdefault("password_form", PasswordChangeForm())
    forms.setdefault("everywhere_form", ConfirmForm())
    return render_template("core/account.html", mfa=accounts.mfa_status(APP, current_user),
                           required=mfa_required(current_user.role_set), **forms), status


@account.get("/account")
@requires(SIGNED_IN)
def index() -> Any:
    return _account_page()


@account.post("/account/password")
@requires(SIGNED_IN)
def change_password() -> Any:
    form = PasswordChangeForm()
    if form.validate_on_submit():
        assert isinstance(session, ServerSession)
        try:
            ended = accounts.change_password(_settings(), APP, current_user,
                                             form.current_password.data,
                                             form.new_password.data, keep=session)
        except accounts.AccountError as refused:
            field = {"password": form.current_password, "new_password": form.new_password}
            field.get(refused.field, form.current_password).errors = [str(refused)]
        else:
            others = f" {ended} other session{'s' if ended != 1 else ''} ended." if ended else ""
            flash(f"Your password is changed.{others}", "info")
            return redirect(url_for("account.index"))
    return _account_page(400, password_form=form)


@account.post("/account/sign-out-everywhere")
@requires(SIGNED_IN)
def sign_out_everywhere() -> Any:
    form = ConfirmForm()
    if not form.validate_on_submit():
        return _account_page(400, everywhere_form=form)
    accounts.sign_out_everywhere(APP, current_user)
    logout_user()
    assert isinstance(session, ServerSession)
    session.clear()
    session.regenerate_requested = True
    flash("You are signed out on every device.", "info")
    return redirect(url_for("auth.login"))


# -- two-step sign-in --------------------------------------------------------------------

def _pending_secret() -> str:
    secret = session.get(PENDING_SECRET)
    if not isinstance(secret, str) or not secret:
        secret = mfa.new_secret()
        session[PENDING_SECRET] = secret
    return secret


def _enrol_page(form: EnrolForm, status: int = 200) -> Any:
    secret = _pending_secret()
    return render_template(
        "core/mfa_enrol.html", form=form, secret=accounts.group_secret(secret),
        qr=accounts.enrolment_qr(secret, current_user, _settings().practice_name or "Hearth"),
        held=held_for_enrolment()), status


def _manage_page(status: int = 200, form: ReauthForm | None = None) -> Any:
    """One re-authentication form; its two buttons post to the reset or the codes route."""
    return render_template("core/mfa_manage.html", mfa=accounts.mfa_status(APP, current_user),
                           required=mfa_required(current_user.role_set),
                           form=form or ReauthForm()), status


@account.route("/account/mfa", methods=["GET", "POST"], endpoint="mfa")
@requires(SIGNED_IN)
@open_before_enrolment
def mfa_page() -> Any:
    """Enrol (not yet enrolled) or manage two-step sign-in."""
    if current_user.mfa_secret:
        return _manage_page()
    form = EnrolForm()
    if form.validate_on_submit():
        try:
            codes = accounts.confirm_enrolment(APP, current_user, _pending_secret(),
                                               form.code.data)
        except accounts.AccountError as refused:
            form.code.errors = [str(refused)]
            return _enrol_page(form, 400)
        session.pop(PENDING_SECRET, None)
        return render_template("core/recovery_codes.html", codes=codes, enrolled=True)
    return _enrol_page(form, 400 if form.errors else 200)


@account.post("/account/mfa/reset")
@requires(SIGNED_IN)
def mfa_reset() -> Any:
    form = ReauthForm()
    if form.validate_on_submit():
        try:
            accounts.reset_mfa(_settings(), APP, current_user, form.password.data,
                               form.code.data)
        except accounts.AccountError as refused:
            (form.code if refused.field == "code" else form.password).errors = [str(refused)]
        else:
            session.pop(PENDING_SECRET, None)
            if mfa_required(current_user.role_set):
                flash("Two-step sign-in is off until you add the account to your new app "
                      "below.", "info")
            else:
                flash("Two-step sign-in is off.", "info")
            return redirect(url_for("account.mfa"))
    if not current_user.mfa_secret:
        return redirect(url_for("account.mfa"))
    return _manage_page(400, form)


@account.post("/account/mfa/recovery-codes")
@requires(SIGNED_IN)
def recovery_codes() -> Any:
    form = ReauthForm()
    if form.validate_on_submit():
        try:
            codes = accounts.regenerate_recovery_codes(_settings(), APP, current_user,
                                                       form.password.data, form.code.data)
        except accounts.AccountError as refused:
            (form.code if refused.field == "code" else form.password).errors = [str(refused)]
        else:
            return render_template("core/recovery_codes.html", codes=codes, enrolled=False)
    if not current_user.mfa_secret:
        return redirect(url_for("account.mfa"))
    return _manage_page(400, form)
