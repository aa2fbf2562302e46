"""Staff app: invite a client, or a minor's guardian, to the portal from the client record.

Registered on the staff app only. The route declares `clients.portal_invite`;
the service checks it again with the record scope (`require_client`).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from webapp.access.service import AccessDenied
from webapp.audit.service import record
from webapp.clients.models import Client
from webapp.core.permissions import requires
from webapp.portal import invitations
from webapp.portal.forms import ConfirmForm, InviteForm
from webapp.portal.invitations import InvitationError

portal_invites = Blueprint("portal_invites", __name__,
                           url_prefix="/clients/<int:client_id>/portal",
                           template_folder="templates")

PERMISSION = invitations.PERMISSION


def _settings() -> Any:
    return current_app.config["HEARTH_SETTINGS"]


def _page(client_id: int, form: InviteForm | None = None, status: int = 200) -> Any:
    try:
        pending = invitations.pending_invitations(current_user, client_id)
        accounts = invitations.portal_accounts(current_user, client_id)
    except AccessDenied:
        abort(403)
    except LookupError:
        abort(404)
    client = Client.get_by_id(client_id)
    record("view", object_type="portal_invitations", object_id=client_id, client_id=client_id)
    invitees = invitations.invitees(client, _settings())
    form = form or InviteForm()
    form.invitee.choices = [(i.value, i.label) for i in invitees if not i.problem]
    return render_template("portal/invitations.html", client=client, invitees=invitees,
                           pending=pending, accounts=accounts, form=form,
                           minor=invitations.is_minor(client, _settings()),
                           confirm_form=ConfirmForm()), status


@portal_invites.get("")
@requires(PERMISSION)
def show(client_id: int) -> Any:
    return _page(client_id)


@portal_invites.post("/invitations")
@requires(PERMISSION)
def invite(client_id: int) -> Any:
    form = InviteForm()
    raw = (form.invitee.data or "") if form.validate_on_submit() else ""
    guardian_id: int | None = None
    if raw.startswith("guardian:") and raw[9:].isdecimal():
        guardian_id = int(raw[9:])
    elif raw != "client":
        flash("Choose who to invite.", "error")
        return _page(client_id, status=422)
    try:
        invitations.invite(current_user, client_id, guardian_id, _settings())
    except AccessDenied:
        abort(403)
    except LookupError:
        abort(404)
    except InvitationError as exc:
        flash(str(exc), "error")
        return _page(client_id, status=422)
    flash("Invitation sent. The link works for 72 hours.", "success")
    return redirect(url_for("portal_invites.show", client_id=client_id))


@portal_invites.post("/invitations/<int:invitation_id>/revoke")
@requires(PERMISSION)
def revoke(client_id: int, invitation_id: int) -> Response:
    if ConfirmForm().validate_on_submit():
        try:
            invitations.revoke(current_user, client_id, invitation_id)
        except AccessDenied:
            abort(403)
        except LookupError:
            abort(404)
        except InvitationError as exc:
            flash(str(exc), "error")
        else:
            flash("Invitation cancelled: its link no longer works.", "success")
    return redirect(url_for("portal_invites.show", client_id=client_id))
