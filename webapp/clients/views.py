"""Client pages for staff: list and search, the client page, and the forms that change it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, NamedTuple

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from webapp.access.views import BreakGlassForm, install_refusals
from webapp.clients import related_service, service
from webapp.clients.forms import (
    AssignClinicianForm,
    ClientForm,
    ClientSearchForm,
    ConfirmForm,
    DischargeForm,
    GuardianForm,
    InsuranceForm,
)
from webapp.clients.service import InvalidClient, PossibleDuplicate
from webapp.core.permissions import requires
from webapp.core.timeutil import today_in

clients = Blueprint("clients", __name__, url_prefix="/clients",
                    template_folder="templates")
# A client outside the user's scope: the break-glass form (or 403); a missing one: 404.
install_refusals(clients)


def _today() -> Any:
    return today_in(current_app.config["HEARTH_SETTINGS"].timezone)


def _client_form_ok(form: ClientForm) -> bool:
    """Validate the form; if its types fail, still show the service's messages for the rest."""
    if not form.is_submitted():
        return False
    if form.validate():
        return True
    try:
        service.clean_client_values(form.data, _today())
    except InvalidClient as exc:
        _apply_errors(form, {k: v for k, v in exc.errors.items()
                             if not getattr(getattr(form, k, None), "errors", None)})
    return False


def _apply_errors(form: FlaskForm, errors: dict[str, str]) -> None:
    for name, message in errors.items():
        field = getattr(form, name, None)
        if field is not None:
            field.errors = [*field.errors, message] if isinstance(field.errors, list) else [message]
        else:
            flash(message, "error")


def _confirmed(client_id: int, change: Callable[[], object], done: str) -> Response:
    """A one-button change (a POST with only a CSRF token), then back to the client page."""
    if ConfirmForm().validate_on_submit():
        try:
            change()
            flash(done, "success")
        except InvalidClient as exc:
            flash(" ".join(exc.errors.values()), "error")
    return redirect(url_for("clients.show", client_id=client_id))


def _load(client_id: int) -> Any:
    """The client for a form page: the GET shows the record (a read, audited); the POST's
    own change is its entry, so a saved form does not also count as a view."""
    return service.get_client(current_user, client_id, audit=request.method == "GET")


SEARCH_KEY = "client_search"


@clients.route("/", methods=["GET", "POST"])
@requires("clients.view")
def index() -> Any:
    """The client list. Search words are PHI, so they go in the session, never the URL.

    POST sets the search and redirects; GET with ?page= shows the current search;
    a plain GET (the navigation link) starts afresh.
    """
    status = request.values.get("status", "active")
    if request.method == "POST":
        form = ClientSearchForm()
        if form.validate_on_submit():
            session[SEARCH_KEY] = (form.q.data or "").strip()  # absent field: None
        return redirect(url_for("clients.index", status=status, page=1))
    page = request.args.get("page")
    if page is None:
        session.pop(SEARCH_KEY, None)
    result = service.search_clients(
        current_user, query=session.get(SEARCH_KEY, ""), status=status,
        page=int(page) if page and page.isdecimal() else 1)  # isdigit() lets '²' through
    return render_template("clients/index.html", result=result,
                           rows=_list_rows(result.rows, _today()))


class ListedClient(NamedTuple):
    """One row of the client list, ready to print."""

    href: str
    last_name: str
    first_name: str  # the preferred name when there is one
    legal_first_name: str  # shown too when it differs from the preferred name
    pronouns: str
    born: str
    age: int
    mobile_phone: str
    status: str
    status_label: str


def _list_rows(rows: list[dict[str, Any]], today: date) -> list[ListedClient]:
    """Format the page's rows in one pass: a template calling a function per cell
    costs the busiest page in the app about twice as much."""
    base = url_for("clients.index")  # "/clients/": one URL build for fifty links
    listed = []
    for row in rows:
        born, first = row["date_of_birth"], row["legal_first_name"]
        preferred = row["preferred_name"]
        listed.append(ListedClient(
            f"{base}{row['id']}", row["legal_last_name"], preferred or first,
            first if preferred and preferred != first else "", row["pronouns"],
            f"{born.month:02d}/{born.day:02d}/{born.year}", service.age_on(born, today),
            row["mobile_phone"], row["status"], row["status"].capitalize()))
    return listed


@clients.route("/new", methods=["GET", "POST"])
@requires("clients.edit")
def new() -> Any:
    form = ClientForm()
    duplicates: list[Any] = []
    hidden = 0
    if _client_form_ok(form):
        try:
            client = service.create_client(current_user, form.data, _today(),
                                           allow_duplicate=form.confirm_not_duplicate.data)
        except InvalidClient as exc:
            _apply_errors(form, exc.errors)
        except PossibleDuplicate as exc:
            duplicates, hidden = service.visible_duplicates(current_user, exc.matches)
        else:
            flash("Client added.", "success")
            return redirect(url_for("clients.show", client_id=client.id))
    status = 422 if request.method == "POST" else 200
    return render_template("clients/form.html", form=form, client=None,
                           duplicates=duplicates, hidden_duplicates=hidden), status


@clients.get("/<int:client_id>")
@requires("clients.view")
def show(client_id: int) -> str:
    from webapp.notes import service as notes_service

    client, access = service.open_client(current_user, client_id)
    assign_form = AssignClinicianForm()
    if current_user.can("clients.edit"):
        assign_form.clinician_id.choices = [(c.id, c.display_name)
                                            for c in service.clinicians()]
    notes = notes_service.notes_for(current_user, client.id) if access.clinical else None
    age = service.age_on(client.date_of_birth, _today())
    return render_template("clients/show.html", client=client, today=_today(), age=age,
                           minor=age < service.ADULT_AGE, access=access, notes=notes,
                           kinds=notes_service.NOTE_KINDS, break_glass_form=BreakGlassForm(),
                           discharge_form=DischargeForm(discharged_on=_today()),
                           confirm_form=ConfirmForm(), assign_form=assign_form,
                           **service.client_overview(client))


@clients.route("/<int:client_id>/edit", methods=["GET", "POST"])
@requires("clients.edit")
def edit(client_id: int) -> Any:
    client = _load(client_id)
    form = ClientForm(obj=client)
    duplicates: list[Any] = []
    hidden = 0
    if _client_form_ok(form):
        try:
            service.update_client(current_user, client_id, form.data, _today(),
                                  allow_duplicate=form.confirm_not_duplicate.data)
        except InvalidClient as exc:
            _apply_errors(form, exc.errors)
        except PossibleDuplicate as exc:
            duplicates, hidden = service.visible_duplicates(current_user, exc.matches)
        else:
            flash("Changes saved.", "success")
            return redirect(url_for("clients.show", client_id=client_id))
    status = 422 if request.method == "POST" else 200
    return render_template("clients/form.html", form=form, client=client,
                           duplicates=duplicates, hidden_duplicates=hidden), status


@clients.post("/<int:client_id>/discharge")
@requires("clients.discharge")
def discharge(client_id: int) -> Response:
    form = DischargeForm()
    if not form.validate_on_submit():
        flash("Give a discharge date and a reason.", "error")
    else:
        try:
            service.discharge_client(current_user, client_id, form.discharged_on.data,
                                     form.reason.data)
            flash("Client discharged.", "success")
        except InvalidClient as exc:
            flash(" ".join(exc.errors.values()), "error")
    return redirect(url_for("clients.show", client_id=client_id))


@clients.post("/<int:client_id>/reactivate")
@requires("clients.discharge")
def reactivate(client_id: int) -> Response:
    return _confirmed(client_id, lambda: service.reactivate_client(current_user, client_id),
                      "Client reactivated.")


@clients.route("/<int:client_id>/guardians/new", methods=["GET", "POST"])
@requires("clients.edit")
def new_guardian(client_id: int) -> Any:
    client = _load(client_id)
    form = GuardianForm()
    if form.validate_on_submit():
        try:
            related_service.add_guardian(current_user, client_id, form.data)
        except InvalidClient as exc:
            _apply_errors(form, exc.errors)
        else:
            flash("Guardian added.", "success")
            return redirect(url_for("clients.show", client_id=client_id))
    status = 422 if request.method == "POST" else 200
    return render_template("clients/guardian_form.html", form=form, client=client), status


@clients.post("/<int:client_id>/guardians/<int:guardian_id>/remove")
@requires("clients.edit")
def remove_guardian(client_id: int, guardian_id: int) -> Response:
    return _confirmed(client_id, lambda: related_service.remove_guardian(current_user, client_id,
                                                               guardian_id),
                      "Guardian removed.")


@clients.route("/<int:client_id>/insurance/new", methods=["GET", "POST"])
@clients.route("/<int:client_id>/insurance/<int:policy_id>", methods=["GET", "POST"])
@requires("clients.insurance")
def policy(client_id: int, policy_id: int | None = None) -> Any:
    client = _load(client_id)
    existing = None
    if policy_id is not None:
        existing = next((p for p in client.insurance_policies if p.id == policy_id), None)
        if existing is None:
            abort(404)
    form = InsuranceForm(obj=existing)
    if existing is not None and request.method == "GET":
        form.rank.data = str(existing.rank)
    if form.validate_on_submit():
        try:
            related_service.save_policy(current_user, client_id, form.data, policy_id)
        except InvalidClient as exc:
            _apply_errors(form, exc.errors)
        else:
            flash("Insurance saved.", "success")
            return redirect(url_for("clients.show", client_id=client_id))
    status = 422 if request.method == "POST" else 200
    return render_template("clients/insurance_form.html", form=form, client=client,
                           policy=existing), status


@clients.post("/<int:client_id>/insurance/<int:policy_id>/remove")
@requires("clients.insurance")
def remove_policy(client_id: int, policy_id: int) -> Response:
    return _confirmed(client_id, lambda: related_service.remove_policy(current_user, client_id,
                                                             policy_id),
                      "Insurance policy removed.")


@clients.post("/<int:client_id>/clinicians")
@requires("clients.edit")
def assign(client_id: int) -> Response:
    form = AssignClinicianForm()
    form.clinician_id.choices = [(c.id, c.display_name) for c in service.clinicians()]
    if form.validate_on_submit():
        try:
            related_service.assign_clinician(current_user, client_id, form.clinician_id.data,
                                             form.is_primary.data)
            flash("Clinician assigned.", "success")
        except InvalidClient as exc:
            flash(" ".join(exc.errors.values()), "error")
    else:
        flash("Choose a clinician.", "error")
    return redirect(url_for("clients.show", client_id=client_id))


@clients.post("/<int:client_id>/clinicians/<int:clinician_id>/remove")
@requires("clients.edit")
def unassign(client_id: int, clinician_id: int) -> Response:
    return _confirmed(client_id,
                      lambda: related_service.unassign_clinician(current_user, client_id,
                                                                  clinician_id),
                      "Clinician unassigned.")
