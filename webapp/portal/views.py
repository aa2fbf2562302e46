"""The portal's pages for a signed-in account, scoped to the clients linked to it.

A client's account sees the client's own record; a guardian's account sees the
minors it is linked to, one at a time (`POST /viewing` switches, linked ids only).
Enrolment (`enrol_views`) and the account's sign-in security (`account_views`)
are blueprints nested in this one, so `create_portal_app` registers one thing.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, redirect, render_template, session, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from webapp.audit.service import record
from webapp.clients import service as clients_service
from webapp.core.permissions import SIGNED_IN, requires
from webapp.core.timeutil import today_in
from webapp.portal import service
from webapp.portal.account_views import my_account
from webapp.portal.enrol_views import enrol
from webapp.portal.forms import ChooseClientForm

portal = Blueprint("portal", __name__, template_folder="templates")
portal.register_blueprint(enrol)
portal.register_blueprint(my_account)


def viewing_or_explain() -> tuple[Any, list[Any]] | str:
    """The client this account is looking at, and all it may look at; or the page that
    says none is linked."""
    clients = service.linked_clients(current_user)
    chosen = service.viewing(current_user, session.get(service.VIEWING_KEY))
    if chosen is None:
        record("view", object_type="client", outcome="denied")
        return render_template("portal/no_records.html")
    return chosen, clients


@portal.get("/")
@requires(SIGNED_IN)
def home() -> Any:
    found = viewing_or_explain()
    if isinstance(found, str):
        return found, 403
    client, clients = found
    record("view", object_type="client", object_id=client.id, client_id=client.id)
    overview = clients_service.client_overview(client)
    today = today_in(current_app.config["HEARTH_SETTINGS"].timezone)
    return render_template("portal/home.html", client=client, clients=clients, today=today,
                           clinicians=overview["clinicians"], choose_form=ChooseClientForm(),
                           for_guardian=current_user.guardian_id is not None)


@portal.post("/viewing")
@requires(SIGNED_IN)
def choose() -> Response:
    """A guardian switches to another of their linked minors; any other id is refused."""
    form = ChooseClientForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        chosen = service.choose(current_user, form.client_id.data)
    except service.NotLinked:
        abort(403)
    session[service.VIEWING_KEY] = chosen.id
    return redirect(url_for("portal.home"))
