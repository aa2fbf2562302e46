"""Portal invitations from the client record, and enrolment: link → date of birth → code
e-mailed through a real SMTP server → username and password → sign in."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from appliance import storage
from appliance.config import Settings
from tests.conftest import initialize, login
from tests.integration.smtp import Mailbox
from tests.integration.web.conftest import (
    SETUP_DESK,
    add_client,
    audit_entries,
    page_token,
    post_form,
    signed_in,
    text_of,
    words_of,
)
from webapp.clients import related_service
from webapp.clients.models import Client, Guardian
from webapp.core.timeutil import utcnow
from webapp.mail.models import OutgoingMail
from webapp.mail.service import deliver
from webapp.portal.enrolment import LOCKED, UNUSABLE
from webapp.portal.models import ClientAccount, PortalInvitation, PortalLink

NEW_PASSWORD = "willow river lantern 42"
PRACTICE = "Hearth Practice"


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with Mailbox() as running:
        yield running


@pytest.fixture
def settings(layout: Any, mailbox: Mailbox) -> Settings:
    """The box with a relay configured: the SMTP server on loopback."""
    return initialize(layout).with_values({
        "smtp_host": "127.0.0.1", "smtp_port": mailbox.port, "smtp_security": "none",
        "smtp_from": "Hearth Practice <hearth@practice.example>",
        "portal_url": "https://portal.practice.example"})


@pytest.fixture
def desk(staff_app: Flask) -> FlaskClient:
    return signed_in(staff_app, "frosa", ["front_desk"], "Fran Rosa")


@pytest.fixture
def portal(portal_app: Flask) -> FlaskClient:
    return portal_app.test_client()


@pytest.fixture
def adult(staff_app: Flask) -> Client:
    return add_client("Marisol", "Quintero", date(1988, 3, 14), email="Marisol@Mail.Example")


class Post:
    """The mail the worker would send now: delivered to the loopback server."""

    def __init__(self, settings: Settings, mailbox: Mailbox) -> None:
        self.settings, self.mailbox = settings, mailbox

    def deliver(self) -> list[EmailMessage]:
        for mail in OutgoingMail.select().where(OutgoingMail.sent_at.is_null()):
            assert deliver(mail.id, self.settings).status == "sent"
        return self.mailbox.received

    def last(self) -> EmailMessage:
        return self.deliver()[-1]


@pytest.fixture
def post(settings: Settings, mailbox: Mailbox) -> Post:
    return Post(settings, mailbox)


def invite(browser: FlaskClient, client_id: int, invitee: str = "client") -> Any:
    return post_form(browser, f"/clients/{client_id}/portal/invitations",
                     {"invitee": invitee}, token_from=f"/clients/{client_id}/portal")


def link_in(message: EmailMessage) -> str:
    match = re.search(r"https://portal\.practice\.example(/enrol/[A-Za-z0-9_-]{43})\b",
                      message.get_content())
    assert match, message.get_content()
    return match.group(1)


def code_in(message: EmailMessage) -> str:
    match = re.search(r"^ +(\d{6})\r?$", message.get_content(), re.MULTILINE)
    assert match, message.get_content()
    return match.group(1)


def step(browser: FlaskClient, path: str, data: dict[str, str]) -> Any:
    return browser.post(path, data={"csrf_token": page_token(browser, path), **data})


def open_link(browser: FlaskClient, path: str) -> Any:
    response = browser.get(path)
    if response.status_code == 302:
        assert response.headers["Location"] == "/enrol/birth-date"
    return response


def enrol(browser: FlaskClient, post: Post, link: str, born: str,
          username: str = "", password: str = NEW_PASSWORD) -> Any:
    """Walk the whole enrolment; returns the last response."""
    assert open_link(browser, link).status_code == 302
    assert step(browser, "/enrol/birth-date", {"date_of_birth": born}).status_code == 302
    code = code_in(post.last())
    assert step(browser, "/enrol/code", {"code": code}).status_code == 302
    page = browser.get("/enrol/account")
    if "Add to your portal account" in words_of(page):
        return step(browser, "/enrol/account", {"password": password})
    return step(browser, "/enrol/account", {"username": username, "password": password,
                                            "password_again": password})


def counts() -> tuple[int, int]:
    return ClientAccount.select().count(), PortalLink.select().count()


def test_invite_enrol_and_sign_in(desk: FlaskClient, portal: FlaskClient, adult: Client,
                                  post: Post) -> None:
    """Can the front desk invite an adult client, who then enrols with the link, their date
    of birth and the e-mailed code, chooses a password and signs in to their own record?"""
    page = desk.get(f"/clients/{adult.id}/portal")
    assert page.status_code == 200 and "marisol@mail.example" in words_of(page)
    response = invite(desk, adult.id)
    assert response.status_code == 302
    assert "Invitation sent" in words_of(desk.get(response.headers["Location"]))

    invitation_mail = post.last()
    assert invitation_mail["To"] == "marisol@mail.example"
    assert invitation_mail["Subject"] == f"Your invitation to the {PRACTICE} client portal"
    link = link_in(invitation_mail)
    [invitation] = PortalInvitation.select()
    assert invitation.token_hash != link.rsplit("/", 1)[1] and len(invitation.token_hash) == 64
    assert invitation.expires_at - invitation.created_at == timedelta(hours=72)

    assert open_link(portal, link).status_code == 302
    page = portal.get("/enrol/birth-date")
    assert page.status_code == 200 and "m•••@mail.example" in words_of(page)
    assert step(portal, "/enrol/birth-date", {"date_of_birth": "1988-03-14"}).headers[
        "Location"] == "/enrol/code"
    code_mail = post.last()
    assert code_mail["Subject"] == f"Your sign-in code for {PRACTICE}"
    assert code_mail["To"] == "marisol@mail.example"
    row = PortalInvitation.get_by_id(invitation.id)
    assert row.code_hash.startswith("$argon2id$") and code_in(code_mail) not in row.code_hash
    assert row.code_expires_at - utcnow() <= timedelta(minutes=10)

    assert step(portal, "/enrol/code", {"code": code_in(code_mail)}).headers[
        "Location"] == "/enrol/account"
    page = portal.get("/enrol/account")
    assert 'value="marisol@mail.example"' in text_of(page)  # the e-mail, by default
    done = step(portal, "/enrol/account", {"username": "Marisol@Mail.Example",
                                           "password": NEW_PASSWORD,
                                           "password_again": NEW_PASSWORD})
    assert done.status_code == 302 and done.headers["Location"] == "/login"

    account = ClientAccount.get(ClientAccount.username == "marisol@mail.example")
    assert (account.client_id, account.guardian_id) == (adult.id, None)
    assert [(link.client_id, link.guardian_id) for link in account.links] == [(adult.id, None)]
    row = PortalInvitation.get_by_id(invitation.id)
    assert row.accepted_at is not None and row.account_id == account.id
    assert row.code_hash == ""

    assert login(portal, "marisol@mail.example", NEW_PASSWORD).status_code == 302
    home = words_of(portal.get("/"))
    assert "Hello, Marisol" in home and "03/14/1988" in home

    for message in post.mailbox.received:  # no PHI in any subject, none in the bodies
        for phi in ("Marisol", "Quintero", "1988", "03/14"):
            assert phi not in message["Subject"] and phi not in message.get_content()
    actions = [e.action for e in audit_entries(client_id=adult.id)]
    for expected in ("portal_invite", "portal_enrol_birth_date", "portal_enrol_code",
                     "portal_enrol"):
        assert expected in actions


def test_wrong_birth_date_and_wrong_code_change_nothing(desk: FlaskClient, portal: FlaskClient,
                                                        adult: Client, post: Post) -> None:
    """Are a wrong date of birth and a wrong code refused, counted, with no code sent for
    the wrong date and no account made?"""
    invite(desk, adult.id)
    link = link_in(post.last())
    open_link(portal, link)
    refused = step(portal, "/enrol/birth-date", {"date_of_birth": "1988-03-15"})
    assert refused.status_code == 422
    assert "does not match our records. 4 tries left" in words_of(refused)
    assert len(post.deliver()) == 1  # the invitation only: no code for a wrong date
    assert portal.get("/enrol/code").headers["Location"] == "/enrol/birth-date"

    step(portal, "/enrol/birth-date", {"date_of_birth": "1988-03-14"})
    code = code_in(post.last())
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    refused = step(portal, "/enrol/code", {"code": wrong})
    assert refused.status_code == 422 and "That code is not right. 3 tries left" in words_of(
        refused)
    assert portal.get("/enrol/account").headers["Location"] == "/enrol/code"
    [invitation] = PortalInvitation.select()
    assert (invitation.attempts, invitation.accepted_at, invitation.revoked_at) == (2, None, None)
    assert counts() == (0, 0)
    assert [e.outcome for e in audit_entries(action="portal_enrol_code")] == ["failure"]


def test_five_failures_lock_the_invitation(desk: FlaskClient, portal: FlaskClient,
                                           adult: Client, post: Post) -> None:
    """After five wrong answers, is the invitation locked, so even the right date of birth
    and the link no longer work, until staff send a new one?"""
    invite(desk, adult.id)
    link = link_in(post.last())
    open_link(portal, link)
    for attempt in range(1, 5):
        assert step(portal, "/enrol/birth-date",
                    {"date_of_birth": f"1990-01-0{attempt}"}).status_code == 422
    locked = step(portal, "/enrol/birth-date", {"date_of_birth": "1990-01-09"})
    assert locked.status_code == 410 and LOCKED in words_of(locked)
    [invitation] = PortalInvitation.select()
    assert invitation.revoked_at is not None and invitation.attempts == 5
    assert portal.get("/enrol/birth-date").status_code == 400
    again = open_link(portal, link)
    assert again.status_code == 410 and UNUSABLE in words_of(again)
    assert len(post.deliver()) == 1 and counts() == (0, 0)
    assert "portal_enrol_birth_date" in {e.action for e in audit_entries(outcome="locked")}

    assert "None." in words_of(desk.get(f"/clients/{adult.id}/portal"))  # nothing waiting
    assert invite(desk, adult.id).status_code == 302
    assert enrol(portal, post, link_in(post.last()), "1988-03-14",
                 "marisol").headers["Location"] == "/login"


def test_an_expired_link_is_refused(desk: FlaskClient, portal: FlaskClient, adult: Client,
                                    post: Post) -> None:
    """Is a link past its 72 hours refused with one clear message, before or mid-way?"""
    invite(desk, adult.id)
    link = link_in(post.last())
    open_link(portal, link)
    PortalInvitation.update(expires_at=utcnow() - timedelta(seconds=1)).execute()
    for response in (portal.get("/enrol/birth-date"), open_link(portal, link)):
        assert response.status_code == 410 and UNUSABLE in words_of(response)
    assert len(post.deliver()) == 1 and counts() == (0, 0)
    [invitation] = PortalInvitation.select()
    assert (invitation.attempts, invitation.code_hash, invitation.accepted_at) == (0, "", None)


def test_a_used_link_cannot_be_used_again(desk: FlaskClient, portal_app: Flask,
                                          portal: FlaskClient, adult: Client,
                                          post: Post) -> None:
    """Once an account is made, does the link (in any browser) lead nowhere?"""
    invite(desk, adult.id)
    link = link_in(post.last())
    assert enrol(portal, post, link, "1988-03-14", "marisol").status_code == 302
    other = portal_app.test_client()
    for browser in (portal, other):
        response = open_link(browser, link)
        assert response.status_code == 410 and UNUSABLE in words_of(response)
    assert portal.get("/enrol/account").status_code == 400
    assert counts() == (1, 1)
    assert len(audit_entries(action="portal_enrol_link", outcome="denied")) == 2


def test_two_browsers_cannot_both_finish(desk: FlaskClient, portal_app: Flask,
                                         portal: FlaskClient, adult: Client,
                                         post: Post) -> None:
    """If the same invitation is walked in two browsers, does only the first make an
    account?"""
    invite(desk, adult.id)
    link = link_in(post.last())
    other = portal_app.test_client()
    for browser in (portal, other):
        open_link(browser, link)
    step(portal, "/enrol/birth-date", {"date_of_birth": "1988-03-14"})
    step(portal, "/enrol/code", {"code": code_in(post.last())})
    page = step(portal, "/enrol/account", {"username": "marisol", "password": NEW_PASSWORD,
                                           "password_again": NEW_PASSWORD})
    assert page.status_code == 302
    late = other.get("/enrol/birth-date")
    assert late.status_code == 410 and UNUSABLE in words_of(late)
    assert counts() == (1, 1)


def test_a_weak_password_or_taken_username_is_refused(desk: FlaskClient, portal: FlaskClient,
                                                      adult: Client, post: Post) -> None:
    """Does the account step apply the password policy and unique usernames, keeping the
    invitation open for a second try?"""
    other = add_client("Bartholomew", "Quist", date(1981, 2, 3), email="bart@mail.example")
    ClientAccount.create(username="taken", client=other.id, password_hash="x")
    invite(desk, adult.id)
    open_link(portal, link_in(post.last()))
    step(portal, "/enrol/birth-date", {"date_of_birth": "1988-03-14"})
    step(portal, "/enrol/code", {"code": code_in(post.last())})
    for data, field in (({"username": "marisol", "password": "short",
                          "password_again": "short"}, "password"),
                        ({"username": "Taken", "password": NEW_PASSWORD,
                          "password_again": NEW_PASSWORD}, "username"),
                        ({"username": "marisol", "password": NEW_PASSWORD,
                          "password_again": NEW_PASSWORD + "x"}, "password_again")):
        refused = step(portal, "/enrol/account", data)
        assert refused.status_code == 422
        assert f'id="{field}-error"' in refused.get_data(as_text=True)
    assert counts() == (1, 0)
    assert PortalInvitation.get().accepted_at is None


def test_a_minor_cannot_be_invited_themself(desk: FlaskClient, post: Post) -> None:
    """Is a client under 18 refused as an invitee, with their guardians offered instead,
    and a guardian without legal authority or an e-mail address refused?"""
    minor = add_client("Tomas", "Reyes", date(2014, 6, 1), email="tomas@mail.example")
    with storage.db.connection_context():
        parent = related_service.add_guardian(SETUP_DESK, minor.id, {
            "full_name": "Elena Reyes", "relationship": "parent",
            "email": "elena@mail.example", "has_legal_authority": True})
        no_authority = related_service.add_guardian(SETUP_DESK, minor.id, {
            "full_name": "Abuela Reyes", "relationship": "grandparent",
            "email": "abuela@mail.example", "has_legal_authority": False})
        no_email = related_service.add_guardian(SETUP_DESK, minor.id, {
            "full_name": "Pablo Reyes", "relationship": "parent", "phone": "5185550111",
            "has_legal_authority": True})
    page = words_of(desk.get(f"/clients/{minor.id}/portal"))
    assert "cannot be invited themself" in page and "elena@mail.example" in page
    refused = invite(desk, minor.id, "client")
    assert refused.status_code == 422
    assert "A client under 18 cannot be invited themself" in words_of(refused)
    for guardian, message in ((no_authority, "no legal authority"),
                              (no_email, "no e-mail address on file"),
                              (Guardian(id=9999), "Choose a guardian of this client")):
        refused = invite(desk, minor.id, f"guardian:{guardian.id}")
        assert refused.status_code == 422 and message in words_of(refused)
    assert PortalInvitation.select().count() == 0 and OutgoingMail.select().count() == 0
    assert invite(desk, minor.id, f"guardian:{parent.id}").status_code == 302
    assert post.last()["To"] == "elena@mail.example"


def test_no_email_on_file_is_explained(desk: FlaskClient) -> None:
    """Does inviting a client with no e-mail address say so and send nothing?"""
    client = add_client("Ana", "Núñez", date(1990, 4, 2))
    refused = invite(desk, client.id)
    assert refused.status_code == 422
    assert "no e-mail address on file for this client" in words_of(refused)
    assert PortalInvitation.select().count() == 0 and OutgoingMail.select().count() == 0


def test_a_biller_cannot_invite(staff_app: Flask, adult: Client) -> None:
    """Is a biller (no clients.portal_invite) refused the page and the invitation?"""
    biller = signed_in(staff_app, "bpatel", ["biller"], "Bina Patel")
    assert biller.get(f"/clients/{adult.id}/portal").status_code == 403
    assert biller.post(f"/clients/{adult.id}/portal/invitations",
                       data={"csrf_token": page_token(biller, "/clients/"),
                             "invitee": "client"}).status_code == 403
    assert "Portal access" not in words_of(biller.get(f"/clients/{adult.id}"))
    assert PortalInvitation.select().count() == 0


def test_a_clinician_cannot_invite_outside_their_scope(staff_app: Flask, adult: Client) -> None:
    """May a clinician invite a client who is not on their caseload?"""
    clinician = signed_in(staff_app, "jchen", ["clinician"], "Julia Chen")
    assert clinician.get(f"/clients/{adult.id}/portal").status_code == 403
    assert clinician.post(f"/clients/{adult.id}/portal/invitations",
                          data={"csrf_token": page_token(clinician, "/clients/"),
                                "invitee": "client"}).status_code == 403
    assert PortalInvitation.select().count() == 0


def test_staff_can_revoke_and_a_new_invitation_replaces_the_old(
        desk: FlaskClient, portal: FlaskClient, adult: Client, post: Post) -> None:
    """Does revoking stop the link at once, and does a second invitation cancel the first?"""
    invite(desk, adult.id)
    first = link_in(post.last())
    invite(desk, adult.id)
    second = link_in(post.last())
    assert open_link(portal, first).status_code == 410
    [waiting] = PortalInvitation.select().where(PortalInvitation.revoked_at.is_null())
    page = words_of(desk.get(f"/clients/{adult.id}/portal"))
    assert "Cancel invitation" in page and "Fran Rosa" in page
    revoked = post_form(desk, f"/clients/{adult.id}/portal/invitations/{waiting.id}/revoke", {},
                        token_from=f"/clients/{adult.id}/portal")
    assert revoked.status_code == 302
    assert open_link(portal, second).status_code == 410
    again = post_form(desk, f"/clients/{adult.id}/portal/invitations/{waiting.id}/revoke", {},
                      token_from=f"/clients/{adult.id}/portal")
    assert "already been used, cancelled or has expired" in words_of(
        desk.get(again.headers["Location"]))
    assert [e.outcome for e in audit_entries(action="portal_invite_revoke")] == [
        "replaced", "success"]


def test_a_guardian_adds_a_sibling_to_their_account(desk: FlaskClient, portal: FlaskClient,
                                                    post: Post) -> None:
    """Invited for a second child with the same e-mail address, does a guardian confirm with
    their password and get the child added to their one account, and can they then switch
    between the two (and no further)?"""
    older = add_client("Lucia", "Reyes", date(2012, 9, 9))
    younger = add_client("Mateo", "Reyes", date(2015, 1, 20))
    stranger = add_client("Nora", "Vance", date(2013, 3, 3))
    guardians = {}
    with storage.db.connection_context():
        for child in (older, younger, stranger):
            guardians[child.id] = related_service.add_guardian(SETUP_DESK, child.id, {
                "full_name": "Elena Reyes" if child is not stranger else "Ivy Vance",
                "relationship": "parent", "has_legal_authority": True,
                "email": "Elena@Mail.Example" if child is not stranger else "ivy@mail.example"})

    invite(desk, older.id, f"guardian:{guardians[older.id].id}")
    assert enrol(portal, post, link_in(post.last()), "2012-09-09",
                 "elena").status_code == 302
    assert login(portal, "elena", NEW_PASSWORD).status_code == 302
    assert "Lucia Reyes" in words_of(portal.get("/"))
    refused = post_form(portal, "/viewing", {"client_id": str(younger.id)}, token_from="/")
    assert refused.status_code == 403  # not linked yet

    invite(desk, younger.id, f"guardian:{guardians[younger.id].id}")
    link = link_in(post.last())
    open_link(portal, link)
    step(portal, "/enrol/birth-date", {"date_of_birth": "2015-01-20"})
    step(portal, "/enrol/code", {"code": code_in(post.last())})
    assert "Add to your portal account" in words_of(portal.get("/enrol/account"))
    wrong = step(portal, "/enrol/account", {"password": "not my password at all"})
    assert wrong.status_code == 422 and "4 tries left" in words_of(wrong)
    assert step(portal, "/enrol/account", {"password": NEW_PASSWORD}).status_code == 302

    [account] = ClientAccount.select()
    assert account.guardian_id == guardians[older.id].id
    assert sorted(link.client_id for link in account.links) == sorted([older.id, younger.id])
    assert PortalInvitation.get(PortalInvitation.client == younger.id).account_id == account.id

    switched = post_form(portal, "/viewing", {"client_id": str(younger.id)}, token_from="/")
    assert switched.status_code == 302
    home = words_of(portal.get("/"))
    assert "Mateo Reyes" in home and "01/20/2015" in home
    assert post_form(portal, "/viewing", {"client_id": str(stranger.id)},
                     token_from="/").status_code == 403
    assert "Nora" not in text_of(portal.get("/"))
