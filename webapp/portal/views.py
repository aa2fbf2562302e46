"""The client's own pages in the portal. Every query is scoped to the signed-in client."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template
from flask_login import current_user

from webapp.audit.service import record
from webapp.clients import service as clients_service
from webapp.core.permissions import SIGNED_IN, requires
from webapp.core.timeutil import today_in

portal = Blueprint("portal", __name__, template_folder="templates")


@portal.get("/")
@requires(SIGNED_IN)
def home() -> str:
    client = clients_service.get_client(current_user.client_id, audit=False)
    record("view", object_type="client", object_id=client.id, client_id=client.id)
    overview = clients_service.client_overview(client)
    today = today_in(current_app.config["HEARTH_SETTINGS"].timezone)
    return render_template("portal/home.html", client=client, today=today,
                           clinicians=overview["clinicians"])
