"""Sign in (password, then code), sign out, the session clock and the health check.

The same routes serve the staff app and the portal. Between the password and the
code the half-signed-in state (which account, since when, where to go next) lives
in the server-side session only; the cookie still carries nothing but a token.
"""

from __future__ import annotations

import time
from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_user, logout_user
from werkzeug.wrappers import Response

from webapp.audit.service import record
from webapp.core import mfa
from webapp.core.forms import CodeForm, LoginForm
from webapp.core.permissions import SIGNED_IN, public, requires
from webapp.core.security import open_before_enrolment
from webapp.core.sessions import ServerSession, idle_timeout, seconds_left
from webapp.core.signin import REFUSED, attempt_code, attempt_sign_in

auth = Blueprint("auth", __name__)
health = Blueprint("health", __name__)
staff_home = Blueprint("home", __name__)

FAILED_MESSAGE = REFUSED
PENDING_KEY = "mfa_pending"
PENDING_SECONDS = 5 * 60  # the code must follow the password within five minutes
START_AGAIN = "Your sign-in was not finished in time. Please sign in again."


@health.get("/healthz")
@public
def healthz() -> Response:
    return jsonify(status="ok")


def safe_next(target: str | None) -> str | None:
    """Only follow `next` to a path on this site, never to another host.

    Browsers drop tabs and newlines inside a URL ("/<tab>/evil.example" becomes
    "//evil.example"), so any whitespace or control character refuses the target.
    """
    if not target or any(c.isspace() or not c.isprintable() for c in target):
        return None
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


@staff_home.get("/")
@requires(SIGNED_IN)
def index() -> Response:
    """The staff start page; the client list until scheduling brings a day view."""
    return redirect(url_for("clients.index"))


def _server_session() -> ServerSession:
    assert isinstance(session, ServerSession)
    return session


def _finish_sign_in(account: Any, target: str | None) -> Response:
    server_session = _server_session()
    server_session.clear()
    server_session.regenerate_requested = True  # a new session id at sign-in
    login_user(account)
    return redirect(target or url_for(current_app.config["HEARTH_HOME"]))


@auth.route("/login", methods=["GET", "POST"])
@public
def login() -> Any:
    if current_user.is_authenticated:
        return redirect(url_for(current_app.config["HEARTH_HOME"]))
    form = LoginForm()
    if form.validate_on_submit():
        outcome = attempt_sign_in(current_app.config["HEARTH_SETTINGS"],
                                  current_app.config["HEARTH_KIND"],
                                  current_app.config["HEARTH_ACCOUNT_MODEL"],
                                  form.username.data, form.password.data,
                                  request.remote_addr or "")
        target = safe_next(request.args.get("next"))
        if outcome.account is not None and outcome.needs_code:
            server_session = _server_session()
            server_session.clear()
            server_session.regenerate_requested = True  # the pending step gets its own id
            server_session[PENDING_KEY] = {"account": outcome.account.id, "since": time.time(),
                                           "next": target or ""}
            return redirect(url_for("auth.login_code"))
        if outcome.account is not None:
            return _finish_sign_in(outcome.account, target)
        flash(outcome.message, "error")
    elif request.method == "GET" and request.args.get("idle"):
        flash("You were signed out after a period of inactivity.", "info")
    status = 401 if request.method == "POST" else 200
    return render_template("core/login.html", form=form), status


def _pending() -> dict[str, Any] | None:
    """The half-finished sign-in, or None when there is none or it is over five minutes old."""
    pending = session.get(PENDING_KEY)
    if not isinstance(pending, dict) or not isinstance(pending.get("account"), int):
        return None
    if not 0 <= time.time() - float(pending.get("since", 0)) <= PENDING_SECONDS:
        session.pop(PENDING_KEY, None)
        return None
    return pending


@auth.route("/login/code", methods=["GET", "POST"])
@public
def login_code() -> Any:
    """The second step: a TOTP code or a recovery code, in a field named `code`."""
    if current_user.is_authenticated:
        return redirect(url_for(current_app.config["HEARTH_HOME"]))
    pending = _pending()
    if pending is None:
        flash(START_AGAIN, "info")
        return redirect(url_for("auth.login"))
    form = CodeForm()
    if form.validate_on_submit():
        kind = current_app.config["HEARTH_KIND"]
        outcome = attempt_code(current_app.config["HEARTH_SETTINGS"], kind,
                               current_app.config["HEARTH_ACCOUNT_MODEL"], pending["account"],
                               form.code.data, request.remote_addr or "")
        if outcome.account is not None:
            response = _finish_sign_in(outcome.account, safe_next(pending.get("next")))
            if outcome.used_recovery_code:
                left = mfa.recovery_codes_left(kind, outcome.account.id)
                flash(f"You signed in with a recovery code; {left} left. Each works once.",
                      "info" if left > 2 else "error")
            return response
        if outcome.ended:
            session.pop(PENDING_KEY, None)
            flash(outcome.message, "error")
            return redirect(url_for("auth.login"))
        flash(outcome.message, "error")
    status = 401 if request.method == "POST" else 200
    return render_template("core/login_code.html", form=form), status


@auth.post("/logout")
@requires(SIGNED_IN)
@open_before_enrolment
def logout() -> Response:
    record("logout", object_type=current_user.actor_kind + "_account", object_id=current_user.id)
    logout_user()
    server_session = _server_session()
    server_session.clear()
    server_session.regenerate_requested = True  # the signed-in row goes; the flash gets a new one
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


# -- the session clock (automatic sign-off) ---------------------------------------------

@auth.get("/session/status")
@requires(SIGNED_IN)
@open_before_enrolment
def session_status() -> Response:
    """How long until the server signs this browser out; reading it does not extend it."""
    server_session = _server_session()
    server_session.touch_suppressed = True
    return jsonify(seconds_left=seconds_left(server_session, current_app.config["HEARTH_KIND"]))


@auth.post("/session/keepalive")
@requires(SIGNED_IN)
@open_before_enrolment
def keepalive() -> Response:
    """The warning's "Stay signed in": restart the idle clock now."""
    server_session = _server_session()
    server_session.force_touch = True
    return jsonify(seconds_left=seconds_left(server_session, current_app.config["HEARTH_KIND"]))


@auth.app_context_processor
def session_clock() -> dict[str, Any]:
    """What the page's idle-warning script needs: the idle length and the time left."""
    if not current_user.is_authenticated:
        return {"session_clock": None}
    kind = current_app.config["HEARTH_KIND"]
    return {"session_clock": {"idle_seconds": int(idle_timeout(kind).total_seconds()),
                              "seconds_left": int(seconds_left(session, kind))}}
