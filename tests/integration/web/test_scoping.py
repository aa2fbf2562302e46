"""Record-level scoping: who sees which client, in the pages and in the services.

Two clinicians (Ada and Ben), Sam who supervises Ada, a biller, a front desk and an
admin (tests/integration/web/care_team.py). An existing client outside one's scope
gets the break-glass page (403) for roles that may break the glass; a missing id 404.
"""

from __future__ import annotations

import re

import pytest
from playhouse.test_utils import count_queries

from tests.integration.web.care_team import SHARED_BIRTH_DATE, Team, team_fixture  # noqa: F401
from tests.integration.web.conftest import (
    POLICY,
    TODAY,
    audit_entries,
    bulk_clients,
    form,
    listed,
    onto_caseload,
    post_form,
    search_list,
    text_of,
    words_of,
)
from webapp.access.service import AccessDenied, NotPermitted
from webapp.clients import related_service
from webapp.clients import service as clients_service
from webapp.clients.models import Client, ClinicianAssignment, Guardian, InsurancePolicy
from webapp.core.permissions import ROLE_PERMISSIONS
from webapp.notes import service as notes_service
from webapp.notes.views import READ_NOTES

NAMES = {"a1": "Amelia", "a2": "Arlo", "b1": "Beatrix", "s1": "Silas"}


def shown(team: Team, username: str, path: str = "/clients/?status=all") -> set[int]:
    return set(listed(team.browser(username).get(path)))


# -- the list and search --------------------------------------------------------

def test_each_role_lists_exactly_the_clients_in_its_scope(team: Team) -> None:
    """Does Ada list only her caseload, Sam his own and Ada's, Ben his own, and do the
    biller, front desk and admin list every client?"""
    assert shown(team, "ada") == {team.a1, team.a2}
    assert shown(team, "ada", "/clients/") == {team.a1, team.a2}  # the prepared default list
    assert shown(team, "sam") == {team.a1, team.a2, team.s1}
    assert shown(team, "ben") == {team.b1}
    for username in ("bill", "fran", "root"):
        assert shown(team, username) == set(team.every_client), username
        assert shown(team, username, "/clients/") == set(team.every_client), username


def test_search_finds_only_clients_in_scope(team: Team) -> None:
    """Do name and birth-date searches stay inside the caseload, even when the words match
    a client outside it?"""
    ada = team.browser("ada")
    assert set(listed(search_list(ada, "beatrix"))) == set()
    assert set(listed(search_list(ada, "as"))) == {team.a1, team.a2}
    assert set(listed(search_list(ada, SHARED_BIRTH_DATE.strftime("%m/%d/%Y")))) == {
        team.a1, team.a2}
    assert set(listed(search_list(team.browser("sam"), "as", status="all"))) == {
        team.a1, team.a2, team.s1}
    assert set(listed(search_list(team.browser("fran"), "beatrix"))) == {team.b1}


def test_the_scoped_list_is_its_own_query_and_leaves_the_full_list_alone(team: Team) -> None:
    """Does the front desk's list stay one query that reads no caseload table, while a
    clinician's list is the caseload's size and one page (no query per client)?"""
    for username, scoped in (("fran", False), ("ada", True), ("sam", True)):
        user = team.user(username)
        with count_queries() as counter:
            clients_service.search_clients(user)
        selects = [q.msg[0] for q in counter.get_queries() if q.msg[0].startswith("SELECT")]
        assert len(selects) == (2 if scoped else 1), username
        assert all(("clinician_assignment" in sql) == scoped for sql in selects), username


def test_a_large_caseload_lists_the_same_clients(team: Team,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Does the query for very large caseloads (walk the list, probe each client) give the
    same pages as the usual one, for a clinician and a supervisor?"""
    bulk_clients(70, last="Aster")
    onto_caseload("ada")
    for username, status in (("ada", "active"), ("sam", "active"), ("ben", "active"),
                             ("sam", "discharged")):
        user = team.user(username)
        usual = [clients_service.search_clients(user, status=status, page=page).rows
                 for page in (1, 2)]
        monkeypatch.setattr(clients_service, "LARGE_CASELOAD", 0)
        large = [clients_service.search_clients(user, status=status, page=page).rows
                 for page in (1, 2)]
        monkeypatch.undo()
        assert large == usual, username
    assert len(usual[0]) == 0 and len(large[0]) == 0  # nobody is discharged
    # Ada now has every client on file (74), so Sam, her supervisor, sees them all.
    sam = clients_service.search_clients(team.user("sam"), page=2).rows
    assert len(sam) == 74 - clients_service.PAGE_SIZE


# -- opening a client -----------------------------------------------------------

def test_a_clinician_opening_another_clinicians_client_gets_the_break_glass_page(
        team: Team) -> None:
    """Does Ada, opening Ben's client, get the break-glass page (403) that shows nothing of
    the record, while a missing id is 404?"""
    ada = team.browser("ada")
    response = ada.get(f"/clients/{team.b1}")
    assert response.status_code == 403
    words = words_of(response)
    assert "This record is outside your caseload" in words
    assert 'name="reason"' in response.get_data(as_text=True)
    assert "Beatrix" not in words and "Bramble" not in words and "1984" not in words
    assert ada.get("/clients/999999").status_code == 404
    [denied] = audit_entries(action="permission_denied")
    assert (denied.client_id, denied.actor_id, denied.outcome) == (
        team.b1, team.users["ada"].id, "denied")
    assert not [e for e in audit_entries(action="view") if e.client_id == team.b1]


def test_every_client_page_and_change_outside_scope_is_refused(team: Team) -> None:
    """Do the edit, guardian, insurance, discharge and assignment pages of Ben's client all
    refuse Ada (the break-glass page), changing nothing?"""
    ada = team.browser("ada")
    before = Client.get_by_id(team.b1).__data__
    assignments = ClinicianAssignment.select().count()
    for path in (f"/clients/{team.b1}/edit", f"/clients/{team.b1}/guardians/new",
                 f"/clients/{team.b1}/insurance/new"):
        response = ada.get(path)
        assert response.status_code == 403, path
        assert "outside your caseload" in words_of(response), path
    changes = [
        (f"/clients/{team.b1}/edit", form(legal_first_name="Changed")),
        (f"/clients/{team.b1}/guardians/new", {"full_name": "G P", "relationship": "parent",
                                               "phone": "5185550123"}),
        (f"/clients/{team.b1}/insurance/new", POLICY),
        (f"/clients/{team.b1}/discharge", {"discharged_on": "2026-11-20", "reason": "Done"}),
        (f"/clients/{team.b1}/clinicians", {"clinician_id": team.users["ada"].id,
                                            "is_primary": "y"}),
        (f"/clients/{team.b1}/clinicians/{team.users['ben'].id}/remove", {}),
    ]
    for path, data in changes:
        assert post_form(ada, path, data).status_code == 403, path
    assert Client.get_by_id(team.b1).__data__ == before
    assert ClinicianAssignment.select().count() == assignments
    assert not Guardian.select().exists() and not InsurancePolicy.select().exists()


def test_a_supervisor_sees_supervisees_clients_and_notes_but_not_others(team: Team) -> None:
    """Does Sam open Ada's client and read her notes, and get the break-glass page for
    Ben's client and Ben's note?"""
    sam = team.browser("sam")
    page = sam.get(f"/clients/{team.a1}")
    assert page.status_code == 200
    assert "Amelia Aster" in words_of(page) and "Notes" in words_of(page)
    note = sam.get(f"/clients/{team.a1}/notes/{team.a1_note}")
    assert note.status_code == 200 and "Ada's signed note." in text_of(note)
    for path in (f"/clients/{team.b1}", f"/clients/{team.b1}/notes/{team.b1_note}"):
        response = sam.get(path)
        assert response.status_code == 403, path
        assert "outside your caseload" in words_of(response)
        assert "Ben's signed note." not in text_of(response)


@pytest.mark.parametrize("username", ["bill", "fran"])
def test_billers_and_front_desk_see_demographics_but_never_notes(team: Team,
                                                                 username: str) -> None:
    """Do the biller and the front desk open every client's demographics, see no Notes
    section, and get a plain 403 (no break-glass offer) on every notes URL?"""
    browser = team.browser(username)
    for client_id in team.every_client:
        page = browser.get(f"/clients/{client_id}")
        assert page.status_code == 200
        assert 'id="notes"' not in page.get_data(as_text=True)
        assert "break-glass" not in words_of(page)
    for client_id, note_id in ((team.a1, team.a1_note), (team.b1, team.b1_note)):
        for method, path in team.note_urls(client_id, note_id):
            if method == "GET":
                response = browser.get(path)
            else:
                response = post_form(browser, path, {"body": "x", "kind": "progress",
                                                     "session_date": "2026-11-20"})
            assert response.status_code == 403, (method, path)
            assert 'name="reason"' not in response.get_data(as_text=True)
            assert "signed note" not in text_of(response)
    assert not [e for e in audit_entries(action="view") if e.object_type in (
        "clinical_note", "note_list")]


def test_an_admin_sees_demographics_and_no_clinical_content_without_break_glass(
        team: Team) -> None:
    """Does the admin see every client's demographics with the notes hidden behind the
    break-glass form, and get the break-glass page on a note's URL?"""
    root = team.browser("root")
    page = root.get(f"/clients/{team.a1}")
    assert page.status_code == 200
    words = words_of(page)
    assert "Amelia Aster" in words
    assert ("Clinical content is hidden from administrators; open it with break-glass"
            in words)
    assert "Ada's signed note." not in words and f"/notes/{team.a1_note}" not in text_of(page)
    response = root.get(f"/clients/{team.a1}/notes/{team.a1_note}")
    assert response.status_code == 403 and "Ada's signed note." not in text_of(response)
    assert 'name="reason"' in response.get_data(as_text=True)
    assert root.get(f"/clients/{team.a1}/notes/new").status_code == 403  # never writes notes
    report = f"/admin/audit/clients/{team.a1}/access"
    assert report in text_of(page)  # the admin reaches the client's access report from here
    assert root.get(report).status_code == 200
    assert report not in text_of(team.browser("ada").get(f"/clients/{team.a1}"))


def test_a_clinician_who_adds_a_client_has_them_on_their_caseload(team: Team) -> None:
    """Does a client Ada adds land on her caseload (she can open them), and does a possible
    duplicate outside her scope get mentioned without its name or a link?"""
    ada = team.browser("ada")
    response = post_form(ada, "/clients/new", form())
    assert response.status_code == 302
    added = Client.get(Client.legal_last_name == "Quintero")
    assert ada.get(f"/clients/{added.id}").status_code == 200
    assert ClinicianAssignment.get(ClinicianAssignment.client == added.id).clinician_id == \
        team.users["ada"].id

    response = post_form(ada, "/clients/new", form(legal_first_name="Beatrix",
                                                   legal_last_name="Bramble",
                                                   date_of_birth=SHARED_BIRTH_DATE.isoformat()))
    assert response.status_code == 422
    assert "on file outside your caseload" in words_of(response)
    assert f'/clients/{team.b1}"' not in response.get_data(as_text=True)


# -- the services, without the views --------------------------------------------

def test_the_services_refuse_out_of_scope_access_themselves(team: Team) -> None:
    """Called directly, do the client and note services refuse Ada on Ben's client, the
    biller on notes, and the admin on writing notes, changing nothing?"""
    ada, bill, root = team.user("ada"), team.user("bill"), team.user("root")
    assert {row["id"] for row in clients_service.search_clients(ada, status="all").rows} == {
        team.a1, team.a2}
    assert {row["id"] for row in clients_service.search_clients(ada, "bramble").rows} == set()
    before = Client.get_by_id(team.b1).__data__
    refused = [
        lambda: clients_service.get_client(ada, team.b1),
        lambda: clients_service.update_client(ada, team.b1, form(legal_first_name="X"), TODAY),
        lambda: clients_service.discharge_client(ada, team.b1, TODAY, "Moved away"),
        lambda: clients_service.reactivate_client(ada, team.b1),
        lambda: related_service.add_guardian(ada, team.b1, {"full_name": "G",
                                                            "relationship": "parent",
                                                            "phone": "5185550123"}),
        lambda: related_service.save_policy(ada, team.b1, POLICY),
        lambda: related_service.assign_clinician(ada, team.b1, ada.id, True),
        lambda: related_service.unassign_clinician(ada, team.b1, team.users["ben"].id),
        lambda: notes_service.notes_for(ada, team.b1),
        lambda: notes_service.get_note(ada, team.b1, team.b1_note),
        lambda: notes_service.create_note(ada, team.b1, {}, TODAY),
    ]
    for call in refused:
        with pytest.raises(AccessDenied) as caught:
            call()
        assert caught.value.can_break_glass
    for call in (lambda: notes_service.notes_for(bill, team.a1),
                 lambda: notes_service.get_note(bill, team.a1, team.a1_note),
                 lambda: notes_service.get_note(root, team.a1, team.a1_note)):
        with pytest.raises(AccessDenied):
            call()
    for call in (lambda: notes_service.create_note(root, team.a1, {}, TODAY),
                 lambda: notes_service.create_note(bill, team.a1, {}, TODAY),
                 lambda: clients_service.update_client(bill, team.a1, form(), TODAY),
                 lambda: clients_service.discharge_client(team.user("fran"), team.a1, TODAY,
                                                          "Done")):
        with pytest.raises(NotPermitted):
            call()
    with pytest.raises(clients_service.ClientNotFound):
        clients_service.get_client(ada, 999999)
    assert Client.get_by_id(team.b1).__data__ == before
    assert not Guardian.select().exists() and not InsurancePolicy.select().exists()
    denied = audit_entries(action="permission_denied")
    assert len(denied) >= len(refused) + 7
    assert {e.client_id for e in denied if e.object_type in ("client", "clinical_record")} == {
        team.b1, team.a1}


def test_every_role_that_reads_notes_passes_the_note_pages_route_guard() -> None:
    """The note pages are guarded by break_glass.open (admins read notes only through it):
    does every role with notes.view hold it, and no biller or front desk?"""
    for role, permissions in ROLE_PERMISSIONS.items():
        if "notes.view" in permissions:
            assert READ_NOTES in permissions, role
    assert READ_NOTES not in ROLE_PERMISSIONS["biller"] | ROLE_PERMISSIONS["front_desk"]


def test_a_portal_account_opens_only_its_own_client(team: Team) -> None:
    """Does the client service, asked by a portal account, give its own client and treat
    any other client as missing?"""
    from tests.integration.web.conftest import add_portal_account

    account = add_portal_account(Client.get_by_id(team.a1), "amelia@mail.example")
    assert clients_service.get_client(account, team.a1, audit=False).id == team.a1
    with pytest.raises(clients_service.ClientNotFound):
        clients_service.get_client(account, team.b1, audit=False)


def test_the_break_glass_page_does_not_name_the_client_in_its_links(team: Team) -> None:
    """Does the break-glass page link only by id (no name in any URL)?"""
    response = team.browser("ada").get(f"/clients/{team.b1}")
    links = re.findall(r'(?:href|action)="([^"]*)"', response.get_data(as_text=True))
    assert f"/clients/{team.b1}/break-glass" in links
    assert not [link for link in links if "bramble" in link.lower()]
