"""Break-glass: the page shown for a client outside one's scope, and the reason form.

Client and note pages raise `AccessDenied` from their services; `install_refusals`
turns that into this page (for roles that may break the glass) or a plain 403.
A reason opens a time-limited grant (`service.open_break_glass`), audited as
break-glass and queued for review in the admin console.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.exceptions import Forbidden, HTTPException, NotFound
from wtforms import TextAreaField
from wtforms.validators import Length

from webapp.access import service
from webapp.access.service import AccessDenied, InvalidReason, NotPermitted
from webapp.core.permissions import requires

access = Blueprint("access", __name__, template_folder="templates")


class BreakGlassForm(FlaskForm):
    # The service judges the reason, so an empty one gets its message, not a generic one.
    reason = TextAreaField("Why do you need this record now?",
                           [Length(max=2 * service.REASON_MAX_LENGTH)],
                           description="Recorded and reviewed by an admin or supervisor.")


def break_glass_page(client_id: int, form: BreakGlassForm | None = None,
                     status: int = 403) -> Any:
    """Says the record is outside the user's scope, without a word of what it holds."""
    return render_template("access/break_glass.html", client_id=client_id,
                           form=form or BreakGlassForm(), minutes=_minutes()), status


def _minutes() -> int:
    from webapp.core import practice_settings

    return int(practice_settings.get("break_glass_minutes"))


def refuse(error: HTTPException) -> Any:
    """The app's own error page, from inside an error handler (where abort() cannot go)."""
    return current_app.handle_http_exception(error)


def install_refusals(blueprint: Blueprint) -> None:
    """Out-of-scope clients get the break-glass page or 403, missing ones 404."""
    from webapp.clients.service import ClientNotFound

    @blueprint.errorhandler(AccessDenied)
    def outside_scope(error: AccessDenied) -> Any:
        if error.can_break_glass:
            return break_glass_page(error.client_id)
        return refuse(Forbidden())

    @blueprint.errorhandler(NotPermitted)
    def not_permitted(error: NotPermitted) -> Any:
        return refuse(Forbidden())

    @blueprint.errorhandler(ClientNotFound)
    def missing(error: ClientNotFound) -> Any:
        return refuse(NotFound())


@access.post("/clients/<int:client_id>/break-glass")
@requires("break_glass.open")
def open_break_glass(client_id: int) -> Any:
    form = BreakGlassForm()
    if not form.validate_on_submit():
        return break_glass_page(client_id, form, 422)
    try:
        grant = service.open_break_glass(current_user, client_id, form.reason.data or "")
    except LookupError:
        abort(404)
    except InvalidReason as exc:
        form.reason.errors = [str(exc)]
        return break_glass_page(client_id, form, 422)
    except AccessDenied:
        abort(403)
    flash("Emergency access is open. Your reason is recorded and will be reviewed.", "info")
    return redirect(url_for("clients.show", client_id=grant.client_id))
