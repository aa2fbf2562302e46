"""Clinical notes: who may read and write them, and the only code that changes them.

    notes = notes_for(user, client_id)                  # audited as a view of the list
    note = create_note(user, client_id, values, today)  # a draft by `user`
    sign_note(user, client_id, note.id)                 # signed: no more changes

Reading needs clinical access to the client (`access.service.require_clinical`):
the client's clinicians, their supervisors, or a break-glass grant. Billers and
front desk never read notes. Writing needs `notes.write` as well, and a note is
changed or signed only by its author, only while it is a draft. Each read and
each change writes its audit entry (ids only, never the text).
"""

from __future__ import annotations

import unicodedata
from datetime import date, datetime
from typing import Any

from appliance.storage import db
from webapp.access.service import require_clinical, require_permission
from webapp.audit.service import record
from webapp.clients import service as clients_service
from webapp.core.models import StaffUser
from webapp.core.timeutil import utcnow
from webapp.notes.models import ClinicalNote

# The short list until the clinical-documentation work brings templates.
NOTE_KINDS = {"progress": "Progress note", "intake": "Intake note", "contact": "Contact note"}
BODY_MAX_LENGTH = 20_000
OLDEST_SESSION = date(1990, 1, 1)


class InvalidNote(ValueError):
    """Bad input: `errors` maps a field name to a message a person can act on."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class NoteNotFound(LookupError):
    pass


class NotYourNote(PermissionError):
    """Only the author changes or signs a note."""


class NoteSigned(ValueError):
    """A signed note is final (addenda come with the clinical-documentation work)."""


def _clinical_client(user: Any, client_id: int) -> Any:
    """The client, when `user` may read their clinical record (missing: ClientNotFound;
    out of scope: AccessDenied, audited). Checked before any transaction."""
    client = clients_service.get_client(user, client_id, audit=False)
    require_clinical(user, client.id)
    return client


def notes_for(user: Any, client_id: int) -> list[ClinicalNote]:
    """The client's notes, newest session first, with their authors (the client page has
    opened the client already, so only the clinical scope is checked here)."""
    require_clinical(user, client_id)
    notes = list(ClinicalNote.select(ClinicalNote, StaffUser)
                 .join(StaffUser, on=(ClinicalNote.author == StaffUser.id))
                 .where(ClinicalNote.client == client_id)
                 .order_by(ClinicalNote.session_date.desc(), ClinicalNote.id.desc()))
    record("view", object_type="note_list", client_id=client_id)
    return notes


def _find(client_id: int, note_id: int) -> ClinicalNote:
    note = ClinicalNote.select(ClinicalNote, StaffUser).join(
        StaffUser, on=(ClinicalNote.author == StaffUser.id)).where(
        (ClinicalNote.id == note_id) & (ClinicalNote.client == client_id)).first()
    if note is None:
        raise NoteNotFound(note_id)
    return note


def get_note(user: Any, client_id: int, note_id: int, audit: bool = True) -> ClinicalNote:
    """One note of this client (another client's note id is 'not found')."""
    _clinical_client(user, client_id)
    note = _find(client_id, note_id)
    if audit:
        record("view", object_type="clinical_note", object_id=note.id, client_id=client_id)
    return note


def clean_note_values(values: dict[str, Any], today: date,
                      born: date | None = None) -> dict[str, Any]:
    errors: dict[str, str] = {}
    kind = values.get("kind") or ""
    if kind not in NOTE_KINDS:
        errors["kind"] = "Choose progress, intake or contact."
    session_date = values.get("session_date")
    if isinstance(session_date, datetime):
        session_date = session_date.date()
    if not isinstance(session_date, date):
        errors["session_date"] = "Enter the date of the session."
    elif session_date > today:
        errors["session_date"] = "The session date is in the future."
    elif session_date < OLDEST_SESSION or (born is not None and session_date < born):
        errors["session_date"] = "Check the year of the session."
    body = (values.get("body") or "").replace("\r\n", "\n").strip()
    if not body:
        errors["body"] = "Write the note."
    elif len(body) > BODY_MAX_LENGTH:
        errors["body"] = f"Too long ({BODY_MAX_LENGTH:,} characters at most)."
    elif any(unicodedata.category(c) == "Cc" and c not in "\n\t" for c in body):
        errors["body"] = "Contains characters that are not allowed."
    if errors:
        raise InvalidNote(errors)
    return {"kind": kind, "session_date": session_date, "body": body}


def writable_client(user: Any, client_id: int) -> Any:
    """The client, when `user` may write notes on them: `notes.write` and clinical scope
    (a break-glass grant counts, so an emergency contact can be documented)."""
    require_permission(user, "notes.write")
    return _clinical_client(user, client_id)


def create_note(user: Any, client_id: int, values: dict[str, Any], today: date) -> ClinicalNote:
    """A draft note by `user` on a client in their clinical scope."""
    client = writable_client(user, client_id)
    clean = clean_note_values(values, today, client.date_of_birth)
    with db.atomic():
        note = ClinicalNote.create(client=client.id, author=user.id, status="draft", **clean)
        record("create", object_type="clinical_note", object_id=note.id, client_id=client.id)
    return note


def own_draft(user: Any, client_id: int, note_id: int) -> tuple[Any, ClinicalNote]:
    """The client and the note, when `user` wrote it and it is still a draft."""
    client = writable_client(user, client_id)
    note = _find(client_id, note_id)
    if note.author.id != user.id:
        record("permission_denied", object_type="clinical_note", object_id=note.id,
               client_id=client_id, outcome="denied")
        raise NotYourNote(note_id)
    if note.status != "draft":
        raise NoteSigned(note_id)
    return client, note


def editable(user: Any, note: ClinicalNote) -> bool:
    """Whether the page should offer to edit or sign (the service decides again)."""
    return bool(note.status == "draft" and note.author.id == user.id and user.can("notes.write"))


def update_note(user: Any, client_id: int, note_id: int, values: dict[str, Any],
                today: date) -> ClinicalNote:
    client, note = own_draft(user, client_id, note_id)
    clean = clean_note_values(values, today, client.date_of_birth)
    with db.atomic():
        changed = ClinicalNote.update(updated_at=utcnow(), **clean).where(
            (ClinicalNote.id == note.id) & (ClinicalNote.status == "draft")).execute()
        if not changed:  # signed meanwhile, in another tab
            raise NoteSigned(note_id)
        record("update", object_type="clinical_note", object_id=note.id, client_id=client_id)
    return _find(client_id, note_id)


def sign_note(user: Any, client_id: int, note_id: int) -> ClinicalNote:
    _, note = own_draft(user, client_id, note_id)
    now = utcnow()
    with db.atomic():
        changed = ClinicalNote.update(status="signed", signed_at=now, updated_at=now).where(
            (ClinicalNote.id == note.id) & (ClinicalNote.status == "draft")).execute()
        if not changed:
            raise NoteSigned(note_id)
        record("sign", object_type="clinical_note", object_id=note.id, client_id=client_id)
    return _find(client_id, note_id)
