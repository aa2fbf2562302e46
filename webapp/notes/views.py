"""Clinical note pages: new, read, edit while a draft, sign. The list is on the client page.

Reading is open to the roles that could ever read a note: the client's clinicians
and supervisors (`notes.view`) and admins through break-glass. The route guard
below admits those roles; the service decides for each client and writes the
audit entry. Billers and front desk are refused at the route.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.exceptions import Forbidden, NotFound
from werkzeug.wrappers import Response

from webapp.access.views import install_refusals, refuse
from webapp.clients import service as clients_service
from webapp.clients.forms import ConfirmForm
from webapp.core.permissions import requires
from webapp.core.timeutil import today_in
from webapp.notes import service
from webapp.notes.forms import NoteForm
from webapp.notes.service import InvalidNote, NoteNotFound, NoteSigned, NotYourNote

notes = Blueprint("notes", __name__, url_prefix="/clients/<int:client_id>/notes",
                  template_folder="templates")
install_refusals(notes)

# Every role that may read some note holds break_glass.open (admin only through a grant);
# tests/integration/web/test_notes.py checks that notes.view implies it.
READ_NOTES = "break_glass.open"


@notes.errorhandler(NoteNotFound)
def _missing(error: NoteNotFound) -> Any:
    return refuse(NotFound())


@notes.errorhandler(NotYourNote)
def _not_yours(error: NotYourNote) -> Any:
    return refuse(Forbidden())


def _today() -> Any:
    return today_in(current_app.config["HEARTH_SETTINGS"].timezone)


def _form_ok(form: NoteForm, born: Any) -> bool:
    """Validate; when the types fail, still show the service's messages for the rest."""
    if not form.is_submitted():
        return False
    if form.validate():
        return True
    try:
        service.clean_note_values(form.data, _today(), born)
    except InvalidNote as exc:
        _show_errors(form, {name: message for name, message in exc.errors.items()
                            if not getattr(form, name).errors})
    return False


def _show_errors(form: NoteForm, errors: dict[str, str]) -> None:
    for name, message in errors.items():
        getattr(form, name).errors = [message]


def _locked(client_id: int, note_id: int) -> Response:
    flash("This note is signed and can no longer be changed.", "error")
    return redirect(url_for("notes.show", client_id=client_id, note_id=note_id))


@notes.route("/new", methods=["GET", "POST"])
@requires("notes.write")
def new(client_id: int) -> Any:
    client = service.writable_client(current_user, client_id)
    form = NoteForm()
    if request.method == "GET":
        form.session_date.data = _today()
        clients_service.get_client(current_user, client_id)  # the form names the client
    if _form_ok(form, client.date_of_birth):
        try:
            note = service.create_note(current_user, client_id, form.data, _today())
        except InvalidNote as exc:
            _show_errors(form, exc.errors)
        else:
            flash("Draft saved. Sign it when it is complete.", "success")
            return redirect(url_for("notes.show", client_id=client_id, note_id=note.id))
    status = 422 if request.method == "POST" else 200
    return render_template("notes/form.html", form=form, client=client, note=None,
                           access=clients_service.access_for(current_user, client_id)), status


@notes.get("/<int:note_id>")
@requires(READ_NOTES)
def show(client_id: int, note_id: int) -> str:
    note = service.get_note(current_user, client_id, note_id)
    client, access = clients_service.open_client(current_user, client_id, audit=False)
    return render_template("notes/show.html", note=note, client=client, access=access,
                           kinds=service.NOTE_KINDS, editable=service.editable(current_user, note),
                           confirm_form=ConfirmForm())


@notes.route("/<int:note_id>/edit", methods=["GET", "POST"])
@requires("notes.write")
def edit(client_id: int, note_id: int) -> Any:
    try:
        client, note = service.own_draft(current_user, client_id, note_id)
    except NoteSigned:
        return _locked(client_id, note_id)
    if request.method == "GET":  # the form shows the text: a read like any other
        service.get_note(current_user, client_id, note_id)
    form = NoteForm(obj=note)
    if _form_ok(form, client.date_of_birth):
        try:
            service.update_note(current_user, client_id, note_id, form.data, _today())
        except InvalidNote as exc:
            _show_errors(form, exc.errors)
        except NoteSigned:
            return _locked(client_id, note_id)
        else:
            flash("Draft saved.", "success")
            return redirect(url_for("notes.show", client_id=client_id, note_id=note_id))
    status = 422 if request.method == "POST" else 200
    return render_template("notes/form.html", form=form, client=client, note=note,
                           access=clients_service.access_for(current_user, client_id)), status


@notes.post("/<int:note_id>/sign")
@requires("notes.write")
def sign(client_id: int, note_id: int) -> Response:
    if ConfirmForm().validate_on_submit():
        try:
            service.sign_note(current_user, client_id, note_id)
        except NoteSigned:
            return _locked(client_id, note_id)
        flash("Note signed.", "success")
    return redirect(url_for("notes.show", client_id=client_id, note_id=note_id))
