"""The business associates register in the console: list, add, edit, and the documents."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import abort, current_app, flash, redirect, request, url_for
from flask_admin import expose
from flask_login import current_user
from werkzeug.wrappers import Response

from webapp.admin import service
from webapp.admin.forms import BusinessAssociateForm, DocumentForm
from webapp.admin.views import ConsoleView

# The form around the file costs a few kilobytes on top of the document itself.
UPLOAD_REQUEST_LIMIT = service.MAX_DOCUMENT_BYTES + 64 * 1024


def _entry(entry_id: int) -> Any:
    try:
        return service.get_entry(entry_id)
    except LookupError:
        abort(404)


class RegisterView(ConsoleView):
    @expose("/")
    def index(self) -> Any:
        settings = current_app.config["HEARTH_SETTINGS"]
        lacking = {entry.id for entry in service.lacking_baa(settings)}
        return self.render("admin/register_list.html", entries=service.register(),
                           lacking=lacking, configured=service.configured_services(settings),
                           labels=service.STATUS_LABELS)

    def _form_page(self, form: BusinessAssociateForm, entry: Any = None) -> Any:
        status = 400 if form.errors else 200
        return self.render("admin/register_form.html", form=form, entry=entry), status

    def _save(self, form: BusinessAssociateForm, entry_id: int | None) -> Response | None:
        if not form.validate_on_submit():
            return None
        try:
            entry = service.save_entry(form.data, entry_id)
        except service.InvalidEntry as exc:
            for name, message in exc.errors.items():
                getattr(form, name).errors = [message]
            return None
        flash("Saved.", "success")
        return redirect(url_for(".show", entry_id=entry.id))

    @expose("/new", methods=("GET", "POST"))
    def create(self) -> Any:
        form = BusinessAssociateForm()
        return self._save(form, None) or self._form_page(form)

    @expose("/<int:entry_id>")
    def show(self, entry_id: int) -> Any:
        entry = _entry(entry_id)
        settings = current_app.config["HEARTH_SETTINGS"]
        return self.render("admin/register_show.html", entry=entry,
                           documents=service.documents(entry.id), upload=DocumentForm(),
                           current=service.has_current_baa(entry),
                           configured=entry.config_key in service.configured_services(settings),
                           labels=service.STATUS_LABELS, kinds=service.DOCUMENT_KINDS)

    @expose("/<int:entry_id>/edit", methods=("GET", "POST"))
    def edit(self, entry_id: int) -> Any:
        entry = _entry(entry_id)
        form = BusinessAssociateForm(obj=entry)
        return self._save(form, entry.id) or self._form_page(form, entry)

    @expose("/<int:entry_id>/documents", methods=("POST",))
    def upload(self, entry_id: int) -> Any:
        entry = _entry(entry_id)
        form = DocumentForm()
        if form.validate_on_submit():
            upload = form.document.data
            content = upload.read(service.MAX_DOCUMENT_BYTES + 1) if upload else b""
            try:
                service.add_document(entry.id, form.kind.data, getattr(upload, "filename", "")
                                     or "", content, current_user.id)
            except service.InvalidEntry as exc:
                for message in exc.errors.values():
                    flash(message, "error")
                return redirect(url_for(".show", entry_id=entry.id))
            flash("Document stored.", "success")
        else:
            flash("The upload did not arrive whole; please try again.", "error")
        return redirect(url_for(".show", entry_id=entry.id))

    @expose("/documents/<int:document_id>")
    def download(self, document_id: int) -> Response:
        try:
            document = service.read_document(document_id)
        except LookupError:
            abort(404)
        response = current_app.response_class(bytes(document.content),
                                               mimetype=document.content_type)
        response.headers["Content-Disposition"] = _attachment(document.filename)
        return response


def _attachment(filename: str) -> str:
    safe = "".join(ch for ch in filename if ch.isascii() and ch.isprintable()
                   and ch not in '"\\;') or "document"
    return f"attachment; filename=\"{safe}\"; filename*=UTF-8''{quote(filename)}"


def allow_large_uploads() -> None:
    """Raise the request-size limit for the document upload alone (runs before CSRF reads
    the form, so the 2 MB limit for every other form still applies elsewhere)."""
    if request.endpoint == "admin_register.upload":
        request.max_content_length = UPLOAD_REQUEST_LIMIT
