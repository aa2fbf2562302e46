"""The admin console (Flask-Admin at /admin on the staff app only).

    from webapp.admin import install
    install(app)   # in create_staff_app

Flask-Admin supplies the mounting, the menu and one blueprint per view; the
pages are ours (`templates/admin/`, based on `core/staff_base.html`), so they
look like the rest of the staff app and need no inline script or style.
Every endpoint the console adds is marked with its view's permission
(`admin.console`, or `break_glass.review` for the review queue that supervisors share),
so the deny-by-default guard refuses (and audits) everyone else before
Flask-Admin's own `is_accessible` is even asked.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask
from flask_admin import Admin, BaseView
from flask_admin.theme import Bootstrap4Theme

from appliance.storage import db

HERE = Path(__file__).parent
PERMISSION = "admin.console"


def install(app: Flask) -> Admin:
    from webapp.admin.register_views import RegisterView, allow_large_uploads
    from webapp.admin.service import sync_configured_services
    from webapp.admin.staff_views import StaffView
    from webapp.admin.views import (
        BreakGlassView,
        DashboardView,
        LockoutsView,
        OutboxView,
        SettingsView,
    )
    from webapp.core.invitation_views import welcome

    # Our templates for the console pages (no routes: only a template folder).
    app.register_blueprint(Blueprint("admin_console", __name__, template_folder="templates"))
    console = Admin(app, name="Admin console",
                    index_view=DashboardView(name="Dashboard", url="/admin"),
                    theme=Bootstrap4Theme(base_template="admin/console_base.html"))
    console.add_view(StaffView(name="Staff", endpoint="admin_staff", url="staff"))
    console.add_view(SettingsView(name="Settings", endpoint="admin_settings", url="settings"))
    console.add_view(LockoutsView(name="Lockouts", endpoint="admin_lockouts", url="lockouts"))
    console.add_view(BreakGlassView(name="Break-glass review", endpoint="admin_break_glass",
                                    url="break-glass"))
    console.add_view(RegisterView(name="Business associates", endpoint="admin_register",
                                  url="business-associates"))
    from webapp.admin.retention_views import RetentionView
    console.add_view(RetentionView(name="Retention", endpoint="admin_retention", url="retention"))
    from webapp.audit.views import AuditView
    console.add_view(AuditView(name="Audit trail", endpoint="admin_audit", url="audit"))
    from webapp.scheduling.setup_views import SchedulingSetupView
    console.add_view(SchedulingSetupView(name="Scheduling", endpoint="admin_scheduling",
                                         url="scheduling"))
    console.add_view(OutboxView(name="Outbox", endpoint="admin_outbox", url="outbox"))
    _declare_permission(app)
    # Runs before the before_request handlers (CSRF reads the body there).
    app.url_value_preprocessor(lambda endpoint, values: allow_large_uploads())

    app.register_blueprint(welcome)
    with db.connection_context():
        sync_configured_services(app.config["HEARTH_SETTINGS"])
    return console


def _declare_permission(app: Flask) -> None:
    """Mark every console endpoint `admin.console` for `webapp.core.security`."""
    view: Any
    for endpoint, view in list(app.view_functions.items()):
        owner = getattr(view, "__self__", None)
        if isinstance(owner, BaseView):
            # A bound method: the mark goes on its function, shared by every instance.
            view.__func__._hearth_permission = getattr(owner, "permission", PERMISSION)
        elif isinstance(owner, Blueprint) and endpoint.endswith(".static") and (
                endpoint == "admin.static" or endpoint.startswith("admin_")):
            app.view_functions[endpoint] = _admin_only(view)


def _admin_only(view: Any) -> Any:
    @functools.wraps(view)
    def serve(*args: Any, **kwargs: Any) -> Any:
        return view(*args, **kwargs)

    serve._hearth_permission = PERMISSION  # type: ignore[attr-defined]
    return serve
