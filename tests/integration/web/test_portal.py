"""The client portal: a client signs in and sees their own record, and only theirs."""

from __future__ import annotations

from datetime import date

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import PASSWORD, login, make_staff
from tests.integration.web.conftest import (
    add_client,
    add_portal_account,
    audit_entries,
    page_token,
    words_of,
)
from webapp.clients import related_service
from webapp.core.models import WebSession
from webapp.core.views import FAILED_MESSAGE


@pytest.fixture
def two_clients(staff_app: Flask) -> tuple[int, int]:
    """Two clients with portal accounts; Julia Chen is the first one's clinician."""
    julia = make_staff("jchen", ["clinician"], full_name="Julia Chen")
    mine = add_client("Henrietta", "Oyelaran", date(1979, 5, 6), mobile_phone="5185550101",
                      email="henrietta@mail.example", address_line1="4 Elm St", city="Troy",
                      state="NY", postal_code="12180")
    theirs = add_client("Bartholomew", "Quist", date(1981, 2, 3), mobile_phone="5185550202",
                        email="bart@mail.example")
    related_service.assign_clinician(mine.id, julia.id, primary=True)
    add_portal_account(mine, "henrietta@mail.example")
    add_portal_account(theirs, "bart@mail.example")
    return mine.id, theirs.id


def test_a_client_sees_only_their_own_details(portal_client: FlaskClient,
                                              two_clients: tuple[int, int]) -> None:
    """Does a signed-in client see their own record, and nothing of another client's?"""
    mine, theirs = two_clients
    response = login(portal_client, "Henrietta@Mail.Example")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    page = portal_client.get("/")
    assert page.status_code == 200
    words = words_of(page)
    for shown in ("Hello, Henrietta", "Henrietta Oyelaran", "05/06/1979", "(518) 555-0101",
                  "henrietta@mail.example", "4 Elm St, Troy, NY 12180", "Julia Chen"):
        assert shown in words, shown
    for hidden in ("Bartholomew", "Quist", "02/03/1981", "555-0202", "bart@"):
        assert hidden not in words, hidden
    [entry] = audit_entries(action="view")
    assert (entry.actor_kind, entry.actor_role, entry.client_id) == ("client", "client", mine)
    assert theirs not in {e.client_id for e in audit_entries(actor_kind="client")}


def test_the_portal_has_no_client_list_or_staff_pages(portal_client: FlaskClient,
                                                      two_clients: tuple[int, int]) -> None:
    """Can a signed-in client reach a client record through a staff app address?"""
    mine, theirs = two_clients
    login(portal_client, "henrietta@mail.example")
    for path in ("/clients/", f"/clients/{theirs}", f"/clients/{mine}", f"/clients/{theirs}/edit"):
        response = portal_client.get(path)
        assert response.status_code == 404, path
        assert "Quist" not in response.get_data(as_text=True)


def test_staff_credentials_do_not_work_on_the_portal(portal_client: FlaskClient,
                                                     two_clients: tuple[int, int]) -> None:
    """Can Julia use her staff username and password to sign in to the portal?"""
    response = login(portal_client, "jchen")
    assert response.status_code == 401
    assert FAILED_MESSAGE in words_of(response)
    assert portal_client.get("/").status_code == 302
    assert not WebSession.select().where(WebSession.principal_id.is_null(False)).exists()


def test_portal_credentials_do_not_work_on_the_staff_app(staff_client: FlaskClient,
                                                         two_clients: tuple[int, int]) -> None:
    """Can a client use their portal username and password on the staff app?"""
    response = login(staff_client, "henrietta@mail.example")
    assert response.status_code == 401
    assert staff_client.get("/clients/").status_code == 302


def test_a_wrong_portal_password_is_refused(portal_client: FlaskClient,
                                                          two_clients: tuple[int, int]) -> None:
    """Is a wrong portal password refused and recorded as a failed sign-in?"""
    response = login(portal_client, "henrietta@mail.example", "not it")
    assert response.status_code == 401
    assert [e.outcome for e in audit_entries(action="login_failed")] == ["failure"]


def test_portal_logout(portal_client: FlaskClient, two_clients: tuple[int, int]) -> None:
    """Does signing out of the portal end the session, so the home page asks to sign in?"""
    assert login(portal_client, "henrietta@mail.example", PASSWORD).status_code == 302
    old = portal_client.get_cookie("hearth_portal")
    assert old is not None
    response = portal_client.post("/logout", data={"csrf_token": page_token(portal_client, "/")})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert "You are signed out." in words_of(portal_client.get("/login"))
    home = portal_client.get("/")
    assert home.status_code == 302 and home.headers["Location"].startswith("/login")

    replay = portal_client.application.test_client()
    replay.set_cookie("hearth_portal", old.value)
    assert replay.get("/").status_code == 302
    assert [e.object_type for e in audit_entries(action="logout")] == ["client_account"]


def test_an_inactive_portal_account_cannot_sign_in(portal_client: FlaskClient,
                                                   two_clients: tuple[int, int]) -> None:
    """Is a disabled portal account refused like a wrong password?"""
    from webapp.portal.models import ClientAccount

    ClientAccount.update(is_active=False).where(
        ClientAccount.username == "henrietta@mail.example").execute()
    response = login(portal_client, "henrietta@mail.example")
    assert response.status_code == 401
    assert FAILED_MESSAGE in words_of(response)
