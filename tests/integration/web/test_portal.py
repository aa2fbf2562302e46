"""The client portal: a client signs in and sees their own record, and only theirs; a
guardian sees the minors linked to their account; optional two-step sign-in."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient

from appliance import storage
from tests.conftest import PASSWORD, login, make_staff
from tests.integration.web.conftest import (
    SETUP_DESK,
    add_client,
    add_portal_account,
    audit_entries,
    page_token,
    words_of,
)
from webapp.clients import related_service
from webapp.core.models import RecoveryCode, WebSession
from webapp.core.passwords import hash_password
from webapp.core.views import FAILED_MESSAGE
from webapp.portal.models import ClientAccount, PortalLink


@pytest.fixture
def two_clients(staff_app: Flask) -> tuple[int, int]:
    """Two clients with portal accounts; Julia Chen is the first one's clinician."""
    julia = make_staff("jchen", ["clinician"], full_name="Julia Chen")
    mine = add_client("Henrietta", "Oyelaran", date(1979, 5, 6), mobile_phone="5185550101",
                      email="henrietta@mail.example", address_line1="4 Elm St", city="Troy",
                      state="NY", postal_code="12180")
    theirs = add_client("Bartholomew", "Quist", date(1981, 2, 3), mobile_phone="5185550202",
                        email="bart@mail.example")
    with storage.db.connection_context():
        related_service.assign_clinician(SETUP_DESK, mine.id, julia.id, primary=True)
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


# -- guardians: only the minors linked to the account ---------------------------------

@pytest.fixture
def family(staff_app: Flask) -> dict[str, int]:
    """Two siblings and an unrelated minor; Elena's account is linked to the older sibling
    only, as after enrolment for one child."""
    older = add_client("Lucia", "Reyes", date(2012, 9, 9), email="")
    younger = add_client("Mateo", "Reyes", date(2015, 1, 20))
    stranger = add_client("Nora", "Vance", date(2013, 3, 3))
    with storage.db.connection_context():
        guardians = {child.id: related_service.add_guardian(SETUP_DESK, child.id, {
            "full_name": "Elena Reyes", "relationship": "parent", "has_legal_authority": True,
            "email": "elena@mail.example"}) for child in (older, younger)}
        account = ClientAccount.create(username="elena", client=older.id,
                                       guardian=guardians[older.id].id,
                                       password_hash=hash_password(PASSWORD))
        PortalLink.create(account=account.id, client=older.id, guardian=guardians[older.id].id)
    return {"older": older.id, "younger": younger.id, "stranger": stranger.id,
            "account": account.id, "younger_guardian": guardians[younger.id].id}


def choose(browser: FlaskClient, client_id: int) -> Any:
    return browser.post("/viewing", data={"csrf_token": page_token(browser, "/"),
                                          "client_id": str(client_id)})


def test_a_guardian_sees_only_the_linked_minor(portal_client: FlaskClient,
                                               family: dict[str, int]) -> None:
    """Can a guardian linked to one child open a sibling's record, or anyone else's?"""
    assert login(portal_client, "elena").status_code == 302
    home = words_of(portal_client.get("/"))
    assert "Lucia Reyes" in home and "signed in as a guardian" in home
    assert "Whose record" not in home  # one child: nothing to choose
    for other in (family["younger"], family["stranger"], 999_999):
        assert choose(portal_client, other).status_code == 403
        page = portal_client.get("/").get_data(as_text=True)
        assert "Lucia" in page and "Mateo" not in page and "Nora" not in page
    denied = audit_entries(action="permission_denied", actor_kind="client")
    assert [e.client_id for e in denied] == [family["younger"], family["stranger"], 999_999]
    assert choose(portal_client, family["older"]).status_code == 302


def test_a_guardian_switches_between_linked_minors(portal_client: FlaskClient,
                                                   family: dict[str, int]) -> None:
    """Once linked to both siblings, can the guardian switch between them, and does the
    choice stay with the session?"""
    PortalLink.create(account=family["account"], client=family["younger"],
                      guardian=family["younger_guardian"])
    login(portal_client, "elena")
    home = portal_client.get("/")
    assert "Whose record" in words_of(home)
    assert f'<option value="{family["stranger"]}"' not in home.get_data(as_text=True)
    assert choose(portal_client, family["younger"]).status_code == 302
    for _ in range(2):
        page = words_of(portal_client.get("/"))
        assert "Mateo Reyes" in page and "01/20/2015" in page and "09/09/2012" not in page
    viewed = audit_entries(action="view", actor_kind="client")
    assert viewed[-1].client_id == family["younger"]
    assert viewed[-1].actor_role == "guardian"  # the trail tells a parent from the client
    assert choose(portal_client, family["older"]).status_code == 302
    assert "Lucia Reyes" in words_of(portal_client.get("/"))
    assert choose(portal_client, family["stranger"]).status_code == 403


def test_an_account_with_no_links_sees_nothing(portal_client: FlaskClient,
                                               family: dict[str, int]) -> None:
    """If a guardian's links are removed, does the account see no record at all, not the
    client it was first made for?"""
    PortalLink.delete().execute()
    login(portal_client, "elena")
    response = portal_client.get("/")
    assert response.status_code == 403
    assert "not linked to any client" in words_of(response)
    assert "Lucia" not in response.get_data(as_text=True)


# -- two-step sign-in for clients (optional) -----------------------------------------

def enrolment_secret(page: Any) -> str:
    match = re.search(r'<code class="secret">([A-Z2-7 ]+)</code>', page.get_data(as_text=True))
    assert match, "no secret on the page"
    return match.group(1).replace(" ", "")


def test_a_client_turns_two_step_sign_in_on_and_off(portal_client: FlaskClient,
                                                    two_clients: tuple[int, int]) -> None:
    """Can a client enrol TOTP (QR drawn here, a code to confirm, recovery codes once), sign
    in with it, and turn it off only with their password and a fresh code?"""
    login(portal_client, "henrietta@mail.example")
    account = ClientAccount.get(ClientAccount.username == "henrietta@mail.example")
    assert "Off" in words_of(portal_client.get("/my-account/"))
    page = portal_client.get("/my-account/two-step")
    assert page.status_code == 200 and "<svg" in page.get_data(as_text=True)
    secret = enrolment_secret(page)
    assert enrolment_secret(portal_client.get("/my-account/two-step")) == secret  # kept
    path = "/my-account/two-step"

    wrong_code = portal_client.post(path, data={"csrf_token": page_token(portal_client, path),
                                                "password": PASSWORD, "code": "000000"})
    assert wrong_code.status_code == 422 and "code is not right" in words_of(wrong_code)
    wrong_password = portal_client.post(path, data={
        "csrf_token": page_token(portal_client, path), "password": "not it",
        "code": pyotp.TOTP(secret).now()})
    assert wrong_password.status_code == 422
    assert ClientAccount.get_by_id(account.id).mfa_secret == ""

    done = portal_client.post(path, data={"csrf_token": page_token(portal_client, path),
                                          "password": PASSWORD,
                                          "code": pyotp.TOTP(secret).now()})
    assert done.status_code == 200
    codes = re.findall(r"<li><code>([A-Z2-9-]{19})</code></li>", done.get_data(as_text=True))
    assert len(codes) == 10
    assert ClientAccount.get_by_id(account.id).mfa_secret == secret
    assert "On" in words_of(portal_client.get("/my-account/"))
    assert codes[0] not in portal_client.get("/my-account/").get_data(as_text=True)
    assert [e.outcome for e in audit_entries(action="mfa")] == ["failure", "failure", "enrolled"]

    off = "/my-account/two-step/off"
    same_step = portal_client.post(off, data={"csrf_token": page_token(portal_client, "/"),
                                              "password": PASSWORD,
                                              "code": pyotp.TOTP(secret).now()})
    assert same_step.status_code == 422  # that code was used to enrol: never twice
    no_password = portal_client.post(off, data={"csrf_token": page_token(portal_client, "/"),
                                                "password": "not it", "code": codes[0]})
    assert no_password.status_code == 422
    assert ClientAccount.get_by_id(account.id).mfa_secret == secret

    portal_client.post("/logout", data={"csrf_token": page_token(portal_client, "/")})
    assert login(portal_client, "henrietta@mail.example").status_code == 302  # with a code
    assert portal_client.get("/").status_code == 200

    turned_off = portal_client.post(off, data={"csrf_token": page_token(portal_client, "/"),
                                               "password": PASSWORD, "code": codes[0]})
    assert turned_off.status_code == 302
    row = ClientAccount.get_by_id(account.id)
    assert (row.mfa_secret, row.mfa_enrolled_at) == ("", None)
    assert "Off" in words_of(portal_client.get("/my-account/"))
    assert RecoveryCode.select().where(RecoveryCode.app == "portal").count() == 0
