"""Break-glass: opening a client outside one's scope with a reason, for a limited time."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.integration.web.care_team import Team, team_fixture  # noqa: F401
from tests.integration.web.conftest import (
    audit_entries,
    links_on,
    listed,
    post_form,
    text_of,
    words_of,
)
from webapp.access import service as access_service
from webapp.access.models import BreakGlassGrant
from webapp.core import practice_settings
from webapp.core.timeutil import local, utcnow

REASON = "Covering Ben's crisis call while he is out sick today"


def break_glass(team: Team, username: str, client_id: int, reason: str = REASON) -> object:
    path = f"/clients/{client_id}/break-glass"
    return post_form(team.browser(username), path, {"reason": reason},
                     token_from=f"/clients/{client_id}")


@pytest.mark.parametrize("reason", ["", "   ", "urgent", "too  short"])
def test_break_glass_without_a_real_reason_is_refused(team: Team, reason: str) -> None:
    """Is an empty or too-short reason refused with the message, creating no grant and no
    break-glass entry, and the record still closed?"""
    response = break_glass(team, "ada", team.b1, reason)
    assert response.status_code == 422
    assert "Say why you need this record (at least 10 characters)" in words_of(response)
    assert "Beatrix" not in words_of(response)
    assert not BreakGlassGrant.select().exists()
    assert not audit_entries(action="break_glass")
    assert team.browser("ada").get(f"/clients/{team.b1}").status_code == 403


def test_a_reason_opens_the_record_with_a_banner_until_the_grant_ends(team: Team) -> None:
    """Does a reason open Ben's client to Ada (redirect to the client, notes readable), with
    the emergency banner and its end time, audited as break_glass with the client id?"""
    response = break_glass(team, "ada", team.b1)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/clients/{team.b1}"
    grant = BreakGlassGrant.get()
    assert (grant.staff_user_id, grant.client_id, grant.reason) == (
        team.users["ada"].id, team.b1, REASON)
    minutes = practice_settings.get("break_glass_minutes")
    assert abs((grant.expires_at - grant.started_at) - timedelta(minutes=minutes)) < \
        timedelta(seconds=1)
    [entry] = audit_entries(action="break_glass")
    assert (entry.client_id, entry.object_id, entry.actor_id) == (
        team.b1, grant.id, team.users["ada"].id)
    assert "crisis" not in " ".join(str(v) for v in entry.__data__.values())

    page = team.browser("ada").get(f"/clients/{team.b1}")
    assert page.status_code == 200
    words = words_of(page)
    ends = local(grant.expires_at, team.app.config["HEARTH_SETTINGS"].timezone)
    assert ends is not None
    assert (f"Emergency access — ends at {ends:%H:%M}, reason recorded, reviewed by an admin "
            "or supervisor") in words
    assert "Beatrix Bramble" in words
    note = team.browser("ada").get(f"/clients/{team.b1}/notes/{team.b1_note}")
    assert note.status_code == 200 and "Ben's signed note." in text_of(note)
    assert "Emergency access" in words_of(note)
    assert not [link for link in links_on(page) if "crisis" in link.lower()]
    # The list stays the caseload: break-glass opens one record, not the practice.
    assert team.b1 not in listed(team.browser("ada").get("/clients/?status=all"))
    # The grant waits for review.
    assert [g.id for g in access_service.pending_reviews()] == [grant.id]


def test_access_ends_when_the_grant_expires(team: Team) -> None:
    """With the grant's end moved into the past, are the client and the notes closed again?"""
    assert break_glass(team, "ada", team.b1).status_code == 302
    ada = team.browser("ada")
    assert ada.get(f"/clients/{team.b1}").status_code == 200
    BreakGlassGrant.update(expires_at=utcnow() - timedelta(seconds=1)).execute()
    for path in (f"/clients/{team.b1}", f"/clients/{team.b1}/notes/{team.b1_note}"):
        response = ada.get(path)
        assert response.status_code == 403, path
        assert "outside your caseload" in words_of(response)
        assert "Ben's signed note." not in text_of(response)


def test_an_admin_reads_notes_only_after_giving_a_reason(team: Team) -> None:
    """Is the admin refused Ada's note until they give a reason, then allowed to read the
    notes list and the note, with a break_glass entry for the client?"""
    root = team.browser("root")
    note_path = f"/clients/{team.a1}/notes/{team.a1_note}"
    assert root.get(note_path).status_code == 403
    assert break_glass(team, "root", team.a1, "").status_code == 422
    assert not BreakGlassGrant.select().exists()
    response = break_glass(team, "root", team.a1, "Records request from the client's attorney")
    assert response.status_code == 302
    page = root.get(f"/clients/{team.a1}")
    assert "Clinical content is hidden" not in words_of(page)
    assert "Emergency access — ends at" in words_of(page)
    assert f"/notes/{team.a1_note}" in page.get_data(as_text=True)
    note = root.get(note_path)
    assert note.status_code == 200 and "Ada's signed note." in text_of(note)
    [entry] = audit_entries(action="break_glass")
    assert entry.client_id == team.a1 and entry.actor_role == "admin"
    views = [e for e in audit_entries(action="view", object_type="clinical_note")]
    assert [(e.object_id, e.client_id) for e in views] == [(team.a1_note, team.a1)]
    assert root.get(f"/clients/{team.a1}/notes/new").status_code == 403  # reading only


@pytest.mark.parametrize("username", ["bill", "fran"])
def test_roles_without_break_glass_cannot_open_it(team: Team, username: str) -> None:
    """Is a biller's or front desk's break-glass refused (403) with no grant?"""
    assert break_glass(team, username, team.a1).status_code == 403
    assert not BreakGlassGrant.select().exists()
    assert not audit_entries(action="break_glass")


def test_break_glass_on_a_missing_client_or_ones_own_is_refused(team: Team) -> None:
    """Is a break-glass for a client who does not exist 404, and for one already in one's
    care refused with a message, neither creating a grant?"""
    response = post_form(team.browser("ada"), "/clients/999999/break-glass", {"reason": REASON})
    assert response.status_code == 404
    response = break_glass(team, "ada", team.a1)
    assert response.status_code == 422
    assert "already in your care" in words_of(response)
    assert not BreakGlassGrant.select().exists()
