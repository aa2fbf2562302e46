"""Staff accounts in the console: the list, invitations, roles, disable/enable, MFA reset,
unlock and supervision. Every change goes through `webapp.core.provisioning`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import abort, flash, redirect, url_for
from flask_admin import expose
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from webapp.admin.forms import (
    ConfirmForm,
    InviteForm,
    ReasonForm,
    RolesForm,
    SuperviseesForm,
)
from webapp.admin.views import ConsoleView
from webapp.core import provisioning
from webapp.core.models import StaffUser
from webapp.core.provisioning import ProvisioningError
from webapp.core.timeutil import utcnow


def _show_errors(form: FlaskForm, errors: dict[str, str]) -> None:
    for name, message in errors.items():
        field = getattr(form, name, None)
        if field is not None:
            field.errors = [message]
        else:
            flash(message, "error")


def _staff(user_id: int) -> StaffUser:
    user = StaffUser.get_or_none(StaffUser.id == user_id)
    if user is None:
        abort(404)
    return user


class StaffView(ConsoleView):
    @expose("/")
    def index(self) -> Any:
        users = list(StaffUser.select().order_by(StaffUser.is_active.desc(),
                                                 StaffUser.full_name))
        return self.render("admin/staff_list.html", users=users, now=utcnow(),
                           invitations=provisioning.pending_invitations(), form=ConfirmForm(),
                           labels=provisioning.ROLE_LABELS)

    @expose("/invite", methods=("GET", "POST"))
    def invite(self) -> Any:
        form = InviteForm()
        if form.validate_on_submit():
            try:
                invitation, token = provisioning.invite(
                    current_user, username=form.username.data, full_name=form.full_name.data,
                    credentials=form.credentials.data, email=form.email.data,
                    roles=form.roles.data or [], reason=form.reason.data)
            except ProvisioningError as exc:
                _show_errors(form, exc.errors)
            else:
                # The link is shown on this one response and nowhere else: only its hash
                # is stored, so it cannot be shown again.
                link = url_for("welcome.accept", token=token, _external=True)
                return self.render("admin/invitation_link.html", invitation=invitation,
                                   link=link)
        status = 400 if form.errors else 200
        return self.render("admin/staff_invite.html", form=form), status

    @expose("/invitations/<int:invitation_id>/revoke", methods=("POST",))
    def revoke(self, invitation_id: int) -> Response:
        if not ConfirmForm().validate_on_submit():
            abort(400)
        try:
            provisioning.revoke_invitation(current_user, invitation_id)
        except LookupError:
            abort(404)
        flash("The invitation is withdrawn; its link no longer works.", "success")
        return redirect(url_for(".index"))

    def _page(self, user: StaffUser, status: int = 200, **forms: FlaskForm) -> Any:
        supervisees = SuperviseesForm(prefix="sup")
        supervisees.supervisees.choices = [
            (other.id, other.display_name) for other in StaffUser.select().where(
                StaffUser.is_active == True, StaffUser.id != user.id)  # noqa: E712
            .order_by(StaffUser.full_name) if other.role_set & {"clinician", "supervisor"}]
        if "sup" not in forms:
            supervisees.supervisees.data = provisioning.supervisee_ids(user.id)
        roles = RolesForm(prefix="roles")
        if "roles" not in forms:
            roles.roles.data = sorted(user.role_set)
        page_forms = {"roles": roles, "disable": ReasonForm(prefix="disable"),
                      "enable": ReasonForm(prefix="enable"), "mfa": ReasonForm(prefix="mfa"),
                      "sup": supervisees, "confirm": ConfirmForm(), **forms}
        if "sup" in forms:
            forms["sup"].supervisees.choices = supervisees.supervisees.choices
        return self.render("admin/staff_show.html", user=user, forms=page_forms, now=utcnow(),
                           changes=provisioning.account_changes(user.id),
                           labels=provisioning.ROLE_LABELS, names={
                               u.id: u.display_name for u in StaffUser.select()}), status

    @expose("/<int:user_id>")
    def show(self, user_id: int) -> Any:
        return self._page(_staff(user_id))

    def _change(self, user_id: int, prefix: str, form: FlaskForm,
                change: Callable[[], Any], done: str) -> Any:
        user = _staff(user_id)
        if not form.validate_on_submit():
            return self._page(user, 400, **{prefix: form})
        try:
            change()
        except ProvisioningError as exc:
            _show_errors(form, exc.errors)
            return self._page(user, 400, **{prefix: form})
        flash(done, "success")
        return redirect(url_for(".show", user_id=user_id))

    @expose("/<int:user_id>/roles", methods=("POST",))
    def roles(self, user_id: int) -> Any:
        form = RolesForm(prefix="roles")
        return self._change(user_id, "roles", form, lambda: provisioning.change_roles(
            current_user, user_id, form.roles.data or [], form.reason.data), "Roles changed.")

    @expose("/<int:user_id>/disable", methods=("POST",))
    def disable(self, user_id: int) -> Any:
        form = ReasonForm(prefix="disable")
        return self._change(user_id, "disable", form, lambda: provisioning.disable(
            current_user, user_id, form.reason.data),
            "The account is disabled and its sessions have ended.")

    @expose("/<int:user_id>/enable", methods=("POST",))
    def enable(self, user_id: int) -> Any:
        form = ReasonForm(prefix="enable")
        return self._change(user_id, "enable", form, lambda: provisioning.enable(
            current_user, user_id, form.reason.data), "The account is active again.")

    @expose("/<int:user_id>/mfa-reset", methods=("POST",))
    def mfa_reset(self, user_id: int) -> Any:
        form = ReasonForm(prefix="mfa")
        return self._change(user_id, "mfa", form, lambda: provisioning.reset_mfa(
            current_user, user_id, form.reason.data),
            "Two-step sign-in is reset; they set it up again at their next sign-in.")

    @expose("/<int:user_id>/unlock", methods=("POST",))
    def unlock(self, user_id: int) -> Any:
        form = ConfirmForm()
        return self._change(user_id, "confirm", form, lambda: provisioning.unlock(
            current_user, user_id, "Unlocked from the console"), "The account is unlocked.")

    @expose("/<int:user_id>/supervisees", methods=("POST",))
    def supervisees(self, user_id: int) -> Any:
        form = SuperviseesForm(prefix="sup")
        return self._change(user_id, "sup", form, lambda: provisioning.set_supervisees(
            current_user, user_id, form.supervisees.data or [], form.reason.data),
            "Supervision saved.")
