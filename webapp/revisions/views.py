"""History pages: a record's versions with what changed, who changed it and when."""

from __future__ import annotations

from typing import Any, NamedTuple

from flask import Blueprint, render_template
from flask_login import current_user

from webapp.access.views import install_refusals
from webapp.core.models import StaffUser
from webapp.core.permissions import requires
from webapp.revisions import service

revisions = Blueprint("revisions", __name__, template_folder="templates")
# The same refusals as the client page: break-glass (or 403) outside scope, 404 if missing.
install_refusals(revisions)

# Kept in every version, but derived from other fields or changed by every save.
NOT_SHOWN = frozenset({"id", "search_text", "sort_name", "updated_at", "created_at"})
LABELS = {"legal_first_name": "Legal first name", "legal_middle_name": "Middle name",
          "legal_last_name": "Legal last name", "date_of_birth": "Date of birth",
          "email": "E-mail", "consent_email": "May e-mail",
          "consent_sms": "May text", "consent_voicemail": "May leave voicemail",
          "address_line1": "Address", "address_line2": "Address (line 2)",
          "postal_code": "ZIP code", "emergency_name": "Emergency contact",
          "discharged_on": "Discharged on"}


class Change(NamedTuple):
    label: str
    before: str
    after: str


class Shown(NamedTuple):
    """One version, ready to print."""

    version: int
    created_at: Any
    who: str
    changes: list[Change]  # against the version before
    details: list[Change]  # the whole record (the first version only)
    content_hash: str
    intact: bool


def label(name: str) -> str:
    return LABELS.get(name, name.replace("_", " ").capitalize())


def shown_value(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return str(value)


def _who(version: service.Version, names: dict[int, str]) -> str:
    if version.actor_kind == service.BASELINE:
        return "On file before changes were recorded"
    if version.actor_kind == "staff" and version.actor_id in names:
        return names[version.actor_id]
    if version.actor_kind == "client":
        return "The client (portal)"
    return "Hearth (system)"


def _shown(versions: list[service.Version]) -> list[Shown]:
    staff_ids = {v.actor_id for v in versions if v.actor_kind == "staff" and v.actor_id}
    names = {user.id: user.display_name
             for user in StaffUser.select().where(StaffUser.id.in_(list(staff_ids)))}
    shown = []
    for version in versions:
        changes = [Change(label(name), shown_value(before), shown_value(after))
                   for name, (before, after) in version.changes.items() if name not in NOT_SHOWN]
        details = [] if version.version != 1 else [
            Change(label(name), "", shown_value(value))
            for name, value in version.snapshot.items() if name not in NOT_SHOWN]
        shown.append(Shown(version.version, version.created_at, _who(version, names), changes,
                           details, version.content_hash, version.intact))
    return shown


@revisions.get("/clients/<int:client_id>/history")
@requires("clients.view")
def client_history(client_id: int) -> str:
    client, access, versions = service.client_history(current_user, client_id)
    return render_template("revisions/history.html", client=client, access=access,
                           versions=_shown(versions))
