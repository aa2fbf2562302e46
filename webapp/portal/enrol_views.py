"""Enrolment pages (public): invitation link → date of birth → e-mailed code → account.

The link's token is exchanged at once for a note in the server-side session, so it
leaves the address bar; each later page checks that note and the invitation again.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    session,
    url_for,
)
from werkzeug.wrappers import Response

from webapp.audit.service import record
from webapp.core.permissions import public
from webapp.portal import enrolment
from webapp.portal.enrolment import EnrolmentError, InvalidAccount, InvitationUnusable
from webapp.portal.forms import BirthDateForm, CodeForm, ExistingAccountForm, NewAccountForm

enrol = Blueprint("enrol", __name__, url_prefix="/enrol", template_folder="templates")

STATE_KEY = "portal_enrolment"
STEPS = ("birth_date", "code", "account")
NOT_STARTED = "Open the link in your invitation e-mail to begin."


def _message(text: str, status: int = 410) -> Response:
    return make_response(render_template("portal/enrol_message.html", message=text), status)


def _state(step: str) -> tuple[Any, dict[str, Any]]:
    """This browser's invitation, once it has reached `step`; otherwise the request ends
    here with the page to show instead (abort with a response)."""
    state = session.get(STATE_KEY)
    if not isinstance(state, dict) or state.get("step") not in STEPS:
        abort(_message(NOT_STARTED, 400))
    try:
        invitation = enrolment.load(int(state["invitation"]))
    except InvitationUnusable as exc:
        session.pop(STATE_KEY, None)
        abort(_message(str(exc)))
    if STEPS.index(state["step"]) < STEPS.index(step):
        abort(redirect(url_for(f"portal.enrol.{state['step']}")))
    return invitation, enrolment.describe(invitation)


def _advance(invitation_id: int, step: str) -> Response:
    session[STATE_KEY] = {"invitation": invitation_id, "step": step}
    return redirect(url_for(f"portal.enrol.{step}"))


def _refused(exc: EnrolmentError) -> None:
    """A wrong answer is shown on the form; a dead invitation ends the request."""
    if isinstance(exc, InvitationUnusable):
        session.pop(STATE_KEY, None)
        abort(_message(str(exc)))
    flash(str(exc), "error")


@enrol.get("/<token>")
@public
def start(token: str) -> Any:
    invitation = enrolment.usable(token)
    if invitation is None:
        session.pop(STATE_KEY, None)
        record("portal_enrol_link", object_type="portal_invitation", outcome="denied")
        return _message(enrolment.UNUSABLE)
    return _advance(invitation.id, "birth_date")


@enrol.route("/birth-date", methods=["GET", "POST"])
@public
def birth_date() -> Any:
    invitation, about = _state("birth_date")
    form = BirthDateForm()
    if form.validate_on_submit():
        try:
            enrolment.send_code(invitation.id, form.date_of_birth.data,
                                current_app.config["HEARTH_SETTINGS"])
        except EnrolmentError as exc:
            _refused(exc)
        else:
            return _advance(invitation.id, "code")
    status = 422 if form.is_submitted() else 200
    return render_template("portal/enrol_birth_date.html", form=form, **about), status


@enrol.route("/code", methods=["GET", "POST"])
@public
def code() -> Any:
    invitation, about = _state("code")
    form = CodeForm()
    if form.validate_on_submit():
        try:
            enrolment.check_code(invitation.id, form.code.data)
        except EnrolmentError as exc:
            _refused(exc)
        else:
            return _advance(invitation.id, "account")
    status = 422 if form.is_submitted() else 200
    return render_template("portal/enrol_code.html", form=form, **about), status


@enrol.route("/account", methods=["GET", "POST"])
@public
def account() -> Any:
    invitation, about = _state("account")
    form: Any = ExistingAccountForm() if about["existing"] else NewAccountForm(
        username=invitation.sent_to)
    if form.validate_on_submit():
        try:
            if about["existing"]:
                enrolment.link_existing_account(invitation.id, form.password.data)
            else:
                enrolment.create_account(invitation.id, form.username.data,
                                         form.password.data, form.password_again.data)
        except InvalidAccount as exc:
            for name, message in exc.errors.items():
                getattr(form, name).errors = [message]
        except EnrolmentError as exc:
            _refused(exc)
        else:
            session.pop(STATE_KEY, None)
            flash("Your portal account is ready: sign in." if not about["existing"] else
                  "The client has been added to your portal account: sign in.", "success")
            return redirect(url_for("auth.login"))
    status = 422 if form.is_submitted() else 200
    return render_template("portal/enrol_account.html", form=form, **about), status
