"""Sign in, sign out and the health check; the same routes serve both apps."""

from __future__ import annotations

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
from webapp.core.forms import LoginForm
from webapp.core.permissions import SIGNED_IN, public, requires
from webapp.core.sessions import ServerSession
from webapp.core.signin import REFUSED, attempt_sign_in

auth = Blueprint("auth", __name__)
health = Blueprint("health", __name__)
staff_home = Blueprint("home", __name__)

FAILED_MESSAGE = REFUSED


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
        if outcome.account is not None:
            assert isinstance(session, ServerSession)
            session.clear()
            session.regenerate_requested = True  # a new session id at sign-in
            login_user(outcome.account)
            return redirect(safe_next(request.args.get("next"))
                            or url_for(current_app.config["HEARTH_HOME"]))
        flash(outcome.message, "error")
    status = 401 if request.method == "POST" else 200
    return render_template("core/login.html", form=form), status


@auth.post("/logout")
@requires(SIGNED_IN)
def logout() -> Response:
    record("logout", object_type=current_user.actor_kind + "_account", object_id=current_user.id)
    logout_user()
    assert isinstance(session, ServerSession)
    session.clear()
    session.regenerate_requested = True  # the signed-in row goes; the flash gets a new one
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))
