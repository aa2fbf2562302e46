"""The admin console's base view and its smaller pages: dashboard, settings, lockouts,
break-glass review and the outbox. Staff accounts and the register have their own modules.

Every console view derives from `ConsoleView`, whose `is_accessible` asks for the
`admin.console` permission; `webapp.admin.install` also marks each endpoint with
that permission so the deny-by-default guard refuses everyone else first.
"""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, redirect, request, url_for
from flask_admin import AdminIndexView, BaseView, expose
from flask_login import current_user
from werkzeug.wrappers import Response

from webapp.access.service import AccessDenied, InvalidReason, pending_reviews, review_grant
from webapp.admin import oversight
from webapp.admin.forms import ConfirmForm, settings_form
from webapp.audit import alerts as audit_alerts
from webapp.audit.service import record
from webapp.clients.models import Client
from webapp.core import practice_settings, provisioning
from webapp.core.timeutil import utcnow

PERMISSION = "admin.console"


def _may_use_console() -> bool:
    return bool(current_user.is_authenticated and current_user.can(PERMISSION))


def _refuse() -> Any:
    record("permission_denied", object_type="endpoint", outcome="denied")
    abort(403)


class ConsoleView(BaseView):
    """One base class for every console page: admins only, everyone else 403 (audited).

    A page may name another permission (`permission`): the break-glass review
    queue is also the supervisors' to work through.
    """

    permission = PERMISSION

    def is_accessible(self) -> bool:
        return bool(current_user.is_authenticated and current_user.can(self.permission))

    def inaccessible_callback(self, name: Any, **kwargs: Any) -> Any:
        return _refuse()

    @property
    def settings(self) -> Any:
        return current_app.config["HEARTH_SETTINGS"]


class DashboardView(AdminIndexView):
    """The console's front page: what needs the admin's attention."""

    def is_accessible(self) -> bool:
        return _may_use_console()

    def inaccessible_callback(self, name: Any, **kwargs: Any) -> Any:
        return _refuse()

    @expose("/")
    def index(self) -> Any:
        settings = current_app.config["HEARTH_SETTINGS"]
        return self.render("admin/dashboard.html", warnings=oversight.dashboard_warnings(settings),
                           verification=audit_alerts.last_verification(settings.layout))


class SettingsView(ConsoleView):
    @expose("/", methods=("GET", "POST"))
    def index(self) -> Any:
        current = practice_settings.raw_values()
        form = settings_form(current)
        if form.validate_on_submit():
            submitted = {name: getattr(form, name).data or "" for name in current}
            # Check every value before storing any, so a bad one changes nothing.
            errors = {}
            for name, raw in submitted.items():
                try:
                    practice_settings.DEFINITIONS[name].parse(raw)
                except practice_settings.SettingError as exc:
                    errors[name] = str(exc)
            for name, message in errors.items():
                getattr(form, name).errors = [message]
            if not errors:
                changed = [name for name, raw in submitted.items()
                           if raw.strip() != current[name]]
                for name in changed:
                    practice_settings.change(name, submitted[name], current_user.id)
                flash("Settings saved." if changed else "Nothing changed.", "success")
                return redirect(url_for(".index"))
        status = 400 if form.errors else 200
        return self.render("admin/settings.html", form=form,
                           names=list(practice_settings.DEFINITIONS)), status


class LockoutsView(ConsoleView):
    @expose("/")
    def index(self) -> Any:
        accounts = oversight.locked_accounts()
        record("view", object_type="locked_accounts")  # portal usernames are often e-mails
        return self.render("admin/lockouts.html", accounts=accounts, form=ConfirmForm())

    @expose("/<kind>/<int:account_id>/unlock", methods=("POST",))
    def unlock(self, kind: str, account_id: int) -> Response:
        if not ConfirmForm().validate_on_submit():
            abort(400)
        try:
            if kind == "staff":
                provisioning.unlock(current_user, account_id, "Unlocked from the console")
            elif kind == "portal":
                oversight.unlock_portal_account(account_id)
            else:
                abort(404)
        except LookupError:
            abort(404)
        flash("The account is unlocked.", "success")
        return redirect(url_for(".index"))


class BreakGlassView(ConsoleView):
    """Emergency openings waiting for review, by an admin or a supervisor."""

    permission = "break_glass.review"

    @expose("/")
    def index(self) -> Any:
        grants = pending_reviews()
        names = {client.id: client for client in Client.select(
            Client.id, Client.legal_first_name, Client.legal_last_name).where(
            Client.id.in_([grant.client_id for grant in grants]))}
        record("view", object_type="break_glass_queue")  # names clients: audited
        return self.render("admin/break_glass.html", grants=grants, clients=names,
                           now=utcnow(), form=ConfirmForm())

    @expose("/<int:grant_id>/review", methods=("POST",))
    def review(self, grant_id: int) -> Response:
        if not ConfirmForm().validate_on_submit():
            abort(400)
        try:
            review_grant(current_user, grant_id, request.form.get("note", ""))
            flash("Marked reviewed.", "success")
        except LookupError:
            abort(404)
        except AccessDenied:
            abort(403)
        except InvalidReason as exc:
            flash(str(exc), "error")
        return redirect(url_for(".index"))


class OutboxView(ConsoleView):
    @expose("/")
    def index(self) -> Any:
        return self.render("admin/outbox.html", messages=oversight.outbox())

    @expose("/<int:mail_id>")
    def show(self, mail_id: int) -> Any:
        try:
            mail = oversight.outgoing_message(mail_id)
        except LookupError:
            abort(404)
        return self.render("admin/outbox_message.html", mail=mail)
