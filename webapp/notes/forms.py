"""Forms for clinical notes. Types and presence here; the rules live in the service."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, TextAreaField
from wtforms.validators import Optional

from webapp.notes.service import NOTE_KINDS


class NoteForm(FlaskForm):
    session_date = DateField("Session date", [Optional()])
    kind = SelectField("Kind of note", choices=list(NOTE_KINDS.items()))
    body = TextAreaField("Note", render_kw={"rows": 14})
