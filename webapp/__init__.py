"""The two Flask apps: the staff app (LAN only) and the client portal.

    app = create_staff_app(Settings.load())

Each has its own secret key, cookie name and sessions, so a portal cookie can
never open the staff app. Creating an app unlocks the database but never
migrates it: run `hearth migrate` (or `hearth init`) first.
"""

from __future__ import annotations

import traceback
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask, g, render_template, request
from flask_login import LoginManager
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

from appliance.config import Settings
from appliance.keys import DATABASE_KEY, PORTAL_SESSION_KEY, STAFF_SESSION_KEY, load_key
from appliance.storage import Prepared, db, end_of_request, open_database
from webapp.audit.chain import audit_key
from webapp.core import security
from webapp.core.sessions import DatabaseSessionInterface
from webapp.core.timeutil import local
from webapp.tasks import unlock_queue

CORE = Path(__file__).parent / "core"
MAX_REQUEST_BYTES = 2 * 1024 * 1024  # forms only; uploads get their own limit later


def _base_app(settings: Settings, kind: str, key_name: str, account_model: Any,
              home: str) -> Flask:
    app = Flask(f"hearth_{kind}", static_folder=str(CORE / "static"),
                template_folder=str(CORE / "templates"))
    open_database(settings.layout)
    audit_key()  # fail at start-up, in one line, without it: no entry could be recorded
    unlock_queue(settings.layout.queue, load_key(settings.layout, DATABASE_KEY))
    cookie = f"__Host-hearth_{kind}" if settings.behind_tls else f"hearth_{kind}"
    app.config.update(
        SECRET_KEY=load_key(settings.layout, key_name),
        SESSION_COOKIE_NAME=cookie,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SECURE=settings.behind_tls,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_PATH="/",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
        MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the server-side session
        WTF_CSRF_SSL_STRICT=settings.behind_tls,
        TESTING=settings.testing,
        HEARTH_SETTINGS=settings,
        HEARTH_KIND=kind,
        HEARTH_TLS=settings.behind_tls,
        HEARTH_ACCOUNT_MODEL=account_model,
        HEARTH_HOME=home,
    )
    app.session_interface = DatabaseSessionInterface(kind)
    CSRFProtect(app)
    login_manager = LoginManager(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.session_protection = None  # the server-side session is the protection

    active_account = Prepared(lambda account_id, active: account_model.select().where(
        (account_model.id == account_id) & (account_model.is_active == active)))

    @login_manager.user_loader
    def load_account(account_id: str) -> Any:
        if not account_id.isdecimal():
            return None
        return active_account.first(int(account_id), True)

    security.install(app)
    _install_error_pages(app)

    @app.teardown_appcontext
    def finish_with_database(_: BaseException | None) -> None:
        end_of_request(db)

    @app.context_processor
    def practice() -> dict[str, Any]:
        return {"practice_name": settings.practice_name, "app_kind": kind}

    def local_time(moment: Any, fmt: str = "%b %-d, %Y %-I:%M %p") -> str:
        shown = local(moment, settings.timezone)
        return shown.strftime(fmt) if shown else ""

    app.jinja_env.filters["local_time"] = local_time

    from webapp.core.views import auth, health

    app.register_blueprint(auth)
    app.register_blueprint(health)
    return app


def _install_error_pages(app: Flask) -> None:
    """Error pages say what happened in general terms; never a record or a traceback."""

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError) -> Any:
        return render_template("core/error.html", code=400, title="This form has expired",
                               message="Please go back, reload the page and try again."), 400

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Any:
        return render_template("core/error.html", code=error.code, title=error.name,
                               message=_ERROR_MESSAGES.get(error.code or 0, "")), error.code

    @app.errorhandler(Exception)
    def server_error(error: Exception) -> Any:
        # Where it failed (files and lines), never the exception's message or
        # locals: those can hold a client's name.
        frames = traceback.extract_tb(error.__traceback__)[-6:]
        where = " < ".join(f"{Path(f.filename).name}:{f.lineno}" for f in reversed(frames))
        reference = g.get("request_id", "")
        app.logger.error("unhandled %s in %s (request %s) at %s", type(error).__name__,
                         request.endpoint, reference, where)
        return render_template("core/error.html", code=500, title="Something went wrong",
                               message="The error has been logged. Please try again.",
                               reference=reference), 500


_ERROR_MESSAGES = {
    401: "Please sign in.",
    403: "Your account does not have access to this page.",
    404: "There is no page at this address.",
    405: "That action is not allowed here.",
    413: "What you sent is too large.",
}


def create_staff_app(settings: Settings) -> Flask:
    from webapp.access.views import access
    from webapp.clients.views import clients
    from webapp.core.account_views import account
    from webapp.core.models import StaffUser
    from webapp.core.views import staff_home
    from webapp.notes.views import notes

    app = _base_app(settings, "staff", STAFF_SESSION_KEY, StaffUser, home="clients.index")
    app.register_blueprint(staff_home)
    app.register_blueprint(clients)
    app.register_blueprint(account)
    app.register_blueprint(access)
    app.register_blueprint(notes)
    from webapp.scheduling.views import scheduling  # calendars and appointments
    app.register_blueprint(scheduling)
    from webapp.revisions.views import revisions  # a client's history of changes
    app.register_blueprint(revisions)
    from webapp.portal.invite_views import portal_invites  # invite clients from their record
    app.register_blueprint(portal_invites)
    from webapp.admin import install as install_admin_console  # also /welcome/<token>
    install_admin_console(app)
    return app


def create_portal_app(settings: Settings) -> Flask:
    from webapp.portal.models import ClientAccount
    from webapp.portal.views import portal

    app = _base_app(settings, "portal", PORTAL_SESSION_KEY, ClientAccount, home="portal.home")
    app.register_blueprint(portal)
    return app
