"""No audit entry, and no log line, names a client: checked against the demo practice.

The demo practice is loaded, then staff of every role and the demo portal clients use
the apps the way a day at the practice would (lists, searches by name and birth date,
charts, notes, break-glass with a reason that names the client, new clients and
guardians, portal invitations, sign-ins mistyped with a client's name or e-mail, a
locked portal account, the console's pages). Afterwards every column of every audit
entry is compared with every client's and guardian's names, e-mail, phone numbers and
date of birth; so is every log record written during the run.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import date
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from appliance import storage
from appliance.config import Settings
from tests.conftest import csrf_token, login
from tests.integration.web.conftest import form, page_token
from webapp.audit.models import AuditEntry
from webapp.clients.models import Client, ClinicianAssignment, Guardian
from webapp.core.models import StaffUser
from webapp.demo import load_demo
from webapp.mail.models import OutgoingMail
from webapp.mail.tasks import send_mail

LINKS = re.compile(r'href="/clients/(\d+)/notes/(\d+)"')


def post(browser: FlaskClient, path: str, data: dict[str, Any],
         token_from: str = "/account") -> Any:
    return browser.post(path, data={"csrf_token": page_token(browser, token_from), **data})


def search(browser: FlaskClient, words: str) -> str:
    """Search as the page does: the words are POSTed, the results are a GET without them."""
    posted = post(browser, "/clients/", {"q": words, "status": "all"}, "/clients/")
    assert posted.status_code == 302 and words not in posted.headers["Location"]
    return browser.get(posted.headers["Location"]).get_data(as_text=True)


def needles() -> tuple[set[str], set[str]]:
    """What would identify a client: (strings to find anywhere, digit strings)."""
    words, digits = set(), set()
    for client in Client.select():
        words |= {client.legal_first_name, client.legal_last_name, client.preferred_name,
                  client.email, client.legal_name, client.date_of_birth.isoformat(),
                  client.date_of_birth.strftime("%m/%d/%Y")}
        digits |= {client.mobile_phone, client.home_phone, client.emergency_phone}
    for guardian in Guardian.select():
        words |= {guardian.full_name, *guardian.full_name.split(), guardian.email}
        digits.add(guardian.phone)
    words = {word for word in words if word and len(word) >= 3}
    digits = {re.sub(r"\D", "", phone)[-10:] for phone in digits if phone}
    return words, {number for number in digits if len(number) == 10}


def named(text: str, words: set[str], digits: set[str]) -> list[str]:
    """The needles found in `text`: exact substrings (names are capitalised, the trail is
    codes, hex and numbers), any word equal to a name whatever its case, or a phone's
    digits."""
    tokens = set(re.split(r"[^0-9a-z@.'-]+", text.lower()))
    found = [word for word in words if word in text or word.lower() in tokens]
    only_digits = re.sub(r"\D", "", text)
    return found + [number for number in digits if number in only_digits]


@pytest.fixture
def demo(settings: Settings, staff_app: Flask) -> dict[str, Any]:
    with storage.db.connection_context():
        load_demo(settings.layout, client_count=60)
    credentials: dict[str, Any] = json.loads(settings.layout.demo_credentials.read_text())
    return credentials


def sign_in(app: Flask, username: str, password: str) -> FlaskClient:
    browser = app.test_client()
    assert login(browser, username, password).status_code == 302
    return browser


def test_no_entry_or_log_line_names_a_client(staff_app: Flask, portal_app: Flask,
                                             demo: dict[str, Any],
                                             caplog: pytest.LogCaptureFixture,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """After a day's use of the demo practice by every role, does any audit entry's column,
    or any log record, hold a client's or guardian's name, e-mail, phone or birth date?"""
    caplog.set_level(logging.INFO)
    for logger in ("webapp", "appliance", "huey", "werkzeug", "flask", "gunicorn"):
        caplog.set_level(logging.DEBUG, logger=logger)
    staff = {person["username"]: person for person in demo["staff"]}
    clients = list(Client.select().order_by(Client.id))
    sample = clients[::4]

    browsers = {name: sign_in(staff_app, name, person["password"])
                for name, person in staff.items()}
    for browser in browsers.values():
        for status in ("active", "discharged", "all"):
            assert browser.get(f"/clients/?status={status}").status_code == 200
        for client in sample[:6]:
            search(browser, client.legal_last_name)
            search(browser, f"{client.legal_first_name} {client.legal_last_name}")
            search(browser, client.date_of_birth.strftime("%m/%d/%Y"))
            search(browser, client.email)
        for client in sample:
            chart = browser.get(f"/clients/{client.id}")
            assert chart.status_code in (200, 403)
            for client_id, note_id in LINKS.findall(chart.get_data(as_text=True)):
                assert browser.get(f"/clients/{client_id}/notes/{note_id}").status_code == 200

    # Break-glass, with the reason a worried clinician would type: the client's name.
    jchen = StaffUser.get(StaffUser.username == "jchen")
    outside = Client.get(Client.id.not_in(ClinicianAssignment.select(ClinicianAssignment.client)
                                          .where(ClinicianAssignment.clinician == jchen.id)))
    reason = f"{outside.legal_name} called in crisis, {outside.mobile_phone}"
    opened = post(browsers["jchen"], f"/clients/{outside.id}/break-glass", {"reason": reason})
    assert opened.status_code == 302
    opened_chart = browsers["jchen"].get(f"/clients/{outside.id}").get_data(as_text=True)
    for client_id, note_id in LINKS.findall(opened_chart):
        browsers["jchen"].get(f"/clients/{client_id}/notes/{note_id}")

    # The front desk adds a client and a guardian and invites an adult to the portal.
    desk = browsers["frontdesk"]
    added = post(desk, "/clients/new", form(legal_first_name="Ottoline", legal_last_name="Vance",
                                            email="ottoline.vance@mail.example"))
    assert added.status_code == 302
    new_id = int(added.headers["Location"].rsplit("/", 1)[1])
    assert post(desk, f"/clients/{new_id}/guardians/new", {
        "full_name": "Percival Vance", "relationship": "parent", "phone": "(518) 555-0123",
        "email": "percival.vance@mail.example", "has_legal_authority": "y"}).status_code == 302
    assert desk.get(f"/clients/{new_id}/portal").status_code == 200
    assert post(desk, f"/clients/{new_id}/portal/invitations",
                {"invitee": "client"}).status_code == 302

    # The demo clients sign in to the portal; one mistypes until their account locks.
    for person in demo["portal"]:
        portal = sign_in(portal_app, person["username"], person["password"])
        assert portal.get("/").status_code == 200
        assert portal.get("/my-account/").status_code == 200
    careless = portal_app.test_client()
    token = csrf_token(careless, "/login")
    for _ in range(11):
        careless.post("/login", data={"csrf_token": token, "password": "not my password!",
                                      "username": demo["portal"][0]["username"]})
    # Staff mistype too: a client's name or e-mail in the username field.
    stranger = staff_app.test_client()
    token = csrf_token(stranger, "/login")
    for client in sample[:3]:
        for typed in (client.legal_name, client.email):
            stranger.post("/login", data={"csrf_token": token, "username": typed,
                                          "password": "whatever it was"})

    admin = browsers["admin"]
    for page in ("/admin/", "/admin/outbox/", "/admin/break-glass/", "/admin/lockouts/",
                 "/admin/staff/"):
        assert admin.get(page).status_code == 200, page
    review = re.search(r'action="(/admin/break-glass/\d+/review)"',
                       admin.get("/admin/break-glass/").get_data(as_text=True))
    assert review and post(admin, review.group(1), {"note": "Seen"}).status_code == 302
    assert admin.get("/clients/999999").status_code == 404
    # Reviewing the trail: the viewer, an export, a client's access report, a name looked up.
    for page in ("/admin/audit/", "/admin/audit/export.csv",
                 f"/admin/audit/clients/{outside.id}/access"):
        assert admin.get(page).status_code == 200, page
    assert post(admin, "/admin/audit/find-client", {"name": outside.legal_name},
                "/admin/audit/").status_code == 200

    # The worker tries the outbox against a relay that is down: it logs each failure.
    layout = staff_app.config["HEARTH_SETTINGS"].layout
    layout.config_file.write_text('smtp_host = "127.0.0.1"\nsmtp_port = 9\n'
                                  'smtp_security = "none"\n'
                                  'smtp_from = "hearth@practice.example"\n')
    monkeypatch.setenv("HEARTH_DATA_DIR", str(layout.data_dir))
    monkeypatch.setenv("HEARTH_CONFIG_DIR", str(layout.config_dir))
    for mail_id in [mail.id for mail in OutgoingMail.select()]:
        assert send_mail.call_local(mail_id) == "retry"

    words, digits = needles()
    assert {"Ottoline", "Percival Vance", outside.legal_last_name} <= words
    assert named(f"x {outside.legal_last_name.lower()} y", words, digits)  # the check bites
    assert named(f"tel:{outside.mobile_phone}", words, digits)
    assert named("ottoline.vance@mail.example", words, digits)
    entries = list(AuditEntry.select().order_by(AuditEntry.id))
    actions = {entry.action for entry in entries}
    assert {"search", "view", "break_glass", "review", "permission_denied", "login_failed",
            "lockout", "portal_invite", "create", "mail_queued", "export"} <= actions
    assert len(entries) > 500
    for entry in entries:
        for column, value in entry.__data__.items():
            text = value.isoformat() if isinstance(value, date) else str(value)
            assert not named(text, words, digits), (entry.id, column, text)

    assert any(log.name == "webapp.mail.tasks" for log in caplog.records)  # it logged
    for log in caplog.records:
        text = log.getMessage() + (log.exc_text or "")
        assert not named(text, words, digits), (log.name, text)
