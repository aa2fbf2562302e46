"""Clinical notes: write a draft, edit it, sign it; every read audited; only the author
changes a note, and only while it is a draft."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from tests.integration.web.care_team import Team, team_fixture  # noqa: F401
from tests.integration.web.conftest import TODAY, audit_entries, post_form, text_of, words_of
from webapp.notes import service as notes_service
from webapp.notes.models import ClinicalNote

NOTE = {"session_date": "2026-11-24", "kind": "progress",
        "body": "Client reports better sleep.\nPlan: continue weekly CBT."}


def new_note(team: Team, username: str, client_id: int, **changes: str) -> object:
    path = f"/clients/{client_id}/notes/new"
    return post_form(team.browser(username), path, {**NOTE, **changes}, token_from=path)


def test_write_edit_and_sign_a_note(team: Team) -> None:
    """Can Ada write a draft, see it listed with date, kind, author and status, edit it and
    sign it, each change audited with the client id?"""
    response = new_note(team, "ada", team.a2)
    assert response.status_code == 302
    note = ClinicalNote.get(ClinicalNote.client == team.a2)
    assert response.headers["Location"] == f"/clients/{team.a2}/notes/{note.id}"
    assert (note.kind, note.session_date, note.status, note.author_id) == (
        "progress", date(2026, 11, 24), "draft", team.users["ada"].id)
    assert note.body == NOTE["body"]

    ada = team.browser("ada")
    words = words_of(ada.get(f"/clients/{team.a2}"))
    assert "11/24/2026 Progress note Ada Alvarez Draft" in words

    edit = f"/clients/{team.a2}/notes/{note.id}/edit"
    assert ada.get(edit).status_code == 200
    response = post_form(ada, edit, {**NOTE, "kind": "contact", "body": "Phone check-in."},
                         token_from=edit)
    assert response.status_code == 302
    assert ClinicalNote.get_by_id(note.id).body == "Phone check-in."

    sign = f"/clients/{team.a2}/notes/{note.id}/sign"
    assert post_form(ada, sign, {}, token_from=f"/clients/{team.a2}/notes/{note.id}"
                     ).status_code == 302
    signed = ClinicalNote.get_by_id(note.id)
    assert signed.status == "signed" and signed.signed_at is not None
    assert "Signed" in words_of(ada.get(f"/clients/{team.a2}/notes/{note.id}"))
    changes = [(e.action, e.object_id, e.client_id) for e in audit_entries(
        object_type="clinical_note") if e.action != "view"]
    assert changes[-3:] == [("create", note.id, team.a2), ("update", note.id, team.a2),
                            ("sign", note.id, team.a2)]


def test_reading_a_note_or_the_list_writes_a_view_entry(team: Team) -> None:
    """Does opening a note, and the client page that lists the notes, each record a view
    with the client id (and nothing of the text)?"""
    ada = team.browser("ada")
    ada.get(f"/clients/{team.a1}/notes/{team.a1_note}")
    [entry] = audit_entries(action="view", object_type="clinical_note")
    assert (entry.object_id, entry.client_id, entry.actor_id, entry.outcome) == (
        team.a1_note, team.a1, team.users["ada"].id, "success")
    ada.get(f"/clients/{team.a1}")
    [listing] = audit_entries(action="view", object_type="note_list")
    assert listing.client_id == team.a1
    assert "signed note" not in " ".join(str(v) for v in entry.__data__.values())


def test_a_signed_note_can_no_longer_be_changed(team: Team) -> None:
    """Is a signed note's edit page closed (back to the note with a message), and do edit
    and sign posts change nothing, also through the service?"""
    ada = team.browser("ada")
    base = f"/clients/{team.a1}/notes/{team.a1_note}"
    before = ClinicalNote.get_by_id(team.a1_note).__data__
    response = ada.get(f"{base}/edit")
    assert response.status_code == 302 and response.headers["Location"] == base
    assert "signed and can no longer be changed" in words_of(ada.get(base))
    assert post_form(ada, f"{base}/edit", {**NOTE, "body": "Rewritten"},
                     token_from=base).status_code == 302
    assert post_form(ada, f"{base}/sign", {}, token_from=base).status_code == 302
    assert ClinicalNote.get_by_id(team.a1_note).__data__ == before
    assert "Edit draft" not in words_of(ada.get(base))
    with pytest.raises(notes_service.NoteSigned):
        notes_service.update_note(team.user("ada"), team.a1, team.a1_note, NOTE, TODAY)


def test_nobody_else_edits_or_signs_a_clinicians_note(team: Team) -> None:
    """Can Sam, who may read Ada's draft, neither edit nor sign it (403), in the pages or
    the service, with the refusal audited?"""
    sam = team.browser("sam")
    base = f"/clients/{team.a1}/notes/{team.a1_draft}"
    before = ClinicalNote.get_by_id(team.a1_draft).__data__
    page = sam.get(base)
    assert page.status_code == 200 and "Ada's draft note." in text_of(page)
    assert "Edit draft" not in words_of(page) and "Sign note" not in words_of(page)
    assert sam.get(f"{base}/edit").status_code == 403
    assert post_form(sam, f"{base}/edit", {**NOTE, "body": "Sam's words"},
                     token_from=base).status_code == 403
    assert post_form(sam, f"{base}/sign", {}, token_from=base).status_code == 403
    for call in (notes_service.update_note, notes_service.sign_note):
        with pytest.raises(notes_service.NotYourNote):
            if call is notes_service.update_note:
                call(team.user("sam"), team.a1, team.a1_draft, NOTE, TODAY)
            else:
                call(team.user("sam"), team.a1, team.a1_draft)
    assert ClinicalNote.get_by_id(team.a1_draft).__data__ == before
    denied = audit_entries(action="permission_denied", object_type="clinical_note")
    assert len(denied) == 5 and {e.client_id for e in denied} == {team.a1}


BAD = [
    ({"body": "   "}, "body", "Write the note."),
    ({"session_date": ""}, "session_date", "Enter the date of the session."),
    ({"session_date": (TODAY + timedelta(days=400)).isoformat()}, "session_date",
     "The session date is in the future."),
    ({"session_date": "1950-01-01"}, "session_date", "Check the year of the session."),
    ({"session_date": "not a date"}, "session_date", "Not a valid date value."),
    ({"kind": "psychotherapy"}, "kind", "Not a valid choice."),
    ({"body": "x" * 20_001}, "body", "Too long (20,000 characters at most)."),
    ({"body": "bell \x07 character"}, "body", "Contains characters that are not allowed."),
]


@pytest.mark.parametrize(("changes", "field", "message"), BAD,
                         ids=[f"{case[1]}:{i}" for i, case in enumerate(BAD)])
def test_bad_note_input_is_explained_and_saves_nothing(team: Team, changes: dict[str, str],
                                                       field: str, message: str) -> None:
    """Does each kind of bad input get its message at the field, and save nothing?"""
    count = ClinicalNote.select().count()
    response = new_note(team, "ada", team.a2, **changes)
    assert response.status_code == 422
    found = re.search(rf'id="{field}-error">([^<]*)</p>', text_of(response))
    assert found and found.group(1) == message
    assert ClinicalNote.select().count() == count


def test_a_note_is_reached_only_through_its_own_client(team: Team) -> None:
    """Is Ada's note, asked for under another of her clients, 'not found'?"""
    ada = team.browser("ada")
    assert ada.get(f"/clients/{team.a2}/notes/{team.a1_note}").status_code == 404
    assert ada.get(f"/clients/{team.a1}/notes/999999").status_code == 404


def test_note_text_is_shown_as_text(team: Team) -> None:
    """Is markup typed into a note shown escaped, never run?"""
    new_note(team, "ada", team.a2, body="<script>alert(1)</script>")
    note = ClinicalNote.get(ClinicalNote.client == team.a2)
    page = team.browser("ada").get(f"/clients/{team.a2}/notes/{note.id}")
    assert "<script>alert(1)</script>" not in page.get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.get_data(as_text=True)
