"""Fixtures for the web tests: signed-in clients per role, clients on file, form helpers."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import date
from typing import Any
from urllib.parse import unquote

import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from peewee import Value

from appliance import storage
from tests.conftest import PASSWORD, login, make_staff
from webapp.audit.models import AuditEntry
from webapp.clients.models import Client, ClinicianAssignment
from webapp.clients.service import create_client, search_text_for, sort_name_for
from webapp.core import passwords
from webapp.core.models import StaffUser
from webapp.core.passwords import hash_password
from webapp.core.timeutil import utcnow
from webapp.portal.models import ClientAccount, PortalLink

TODAY = date(2026, 11, 26)

# Every field of the client form, filled the way a person would type it.
FULL_CLIENT_FORM = {
    "legal_first_name": "Marisol",
    "legal_middle_name": "Inés",
    "legal_last_name": "Quintero",
    "preferred_name": "Mari",
    "pronouns": "she/her",
    "date_of_birth": "1988-03-14",
    "email": "Marisol.Quintero@Mail.Example",
    "mobile_phone": "518-555-0142",
    "home_phone": "1 (518) 555 0199",
    "preferred_channel": "email",
    "consent_email": "y",
    "consent_sms": "y",
    "consent_voicemail": "y",
    "address_line1": "12 Willow Way",
    "address_line2": "Apt 3",
    "city": "Troy",
    "state": "ny",
    "postal_code": "12180-1234",
    "emergency_name": "Rafael Quintero",
    "emergency_relationship": "brother",
    "emergency_phone": "(518) 555-0177",
}

_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def page_token(client: FlaskClient, path: str) -> str:
    """The CSRF token from any form on `path` (WTForms' or the sign-out button's)."""
    page = client.get(path)
    match = _TOKEN.search(page.text)
    assert match, f"no CSRF token on {path} (status {page.status_code})"
    return match.group(1)


def post_form(client: FlaskClient, path: str, data: dict[str, Any],
              token_from: str | None = None) -> Any:
    """POST `data` with a valid CSRF token, as the browser would after loading a page."""
    token = page_token(client, token_from or "/clients/")
    return client.post(path, data={"csrf_token": token, **data})


def search_list(client: FlaskClient, query: str, status: str = "active") -> Any:
    """Search the way the page does: POST the words, follow the redirect to the list."""
    posted = post_form(client, "/clients/", {"q": query, "status": status})
    assert posted.status_code == 302, posted.status_code
    assert query.strip() == "" or query not in posted.headers["Location"]
    return client.get(posted.headers["Location"])


def text_of(response: Any) -> str:
    """The page as a reader sees it: entities decoded."""
    return html.unescape(response.get_data(as_text=True))


def words_of(response: Any) -> str:
    """The page's visible words: tags dropped, white space collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", text_of(response)).split())


def links_on(response: Any, attributes: str = "href|action|src") -> list[str]:
    """Every URL the page points at (links, form targets, images), decoded."""
    found = re.findall(rf'(?:{attributes})="([^"]*)"', response.get_data(as_text=True))
    return [unquote(html.unescape(link)) for link in found]


def client_count() -> int:
    return int(Client.select().count())


def audit_entries(**where: Any) -> list[AuditEntry]:
    query = AuditEntry.select().order_by(AuditEntry.id)
    for name, value in where.items():
        query = query.where(getattr(AuditEntry, name) == value)
    return list(query)


# Who puts the tests' clients on file: the front desk (every client in scope, no caseload
# of its own), as an account that lives only in memory.
SETUP_DESK = StaffUser(id=0, username="setup", full_name="Test setup", roles="front_desk")


def add_client(first: str = "Ana", last: str = "Núñez", dob: date = date(1990, 4, 2),
               **values: Any) -> Client:
    """A client on file, written through the service as the app would."""
    with storage.db.connection_context():
        return create_client(SETUP_DESK, {"legal_first_name": first, "legal_last_name": last,
                                          "date_of_birth": dob, **values}, TODAY,
                             allow_duplicate=True)


def add_caseload_client(*args: Any, clinician: str = "jchen", **values: Any) -> Client:
    """`add_client`, on `clinician`'s caseload: for tests about the record itself
    (who may see which client is tested in test_scoping.py)."""
    client = add_client(*args, **values)
    onto_caseload(clinician)
    return client


def onto_caseload(clinician: str = "jchen") -> None:
    """Put every client on file on `clinician`'s caseload."""
    with storage.db.atomic():
        staff_id = StaffUser.get(StaffUser.username == clinician).id
        ClinicianAssignment.insert_from(
            Client.select(Client.id, Value(staff_id), Value(False), Value(utcnow())).where(
                Client.id.not_in(ClinicianAssignment.select(ClinicianAssignment.client).where(
                    ClinicianAssignment.clinician == staff_id))),
            [ClinicianAssignment.client, ClinicianAssignment.clinician,
             ClinicianAssignment.is_primary, ClinicianAssignment.assigned_at]).execute()


def bulk_clients(count: int, last: str = "Bulk", dob: date = date(1980, 1, 1),
                 name: Callable[[int], tuple[str, str]] | None = None) -> None:
    """Many clients at once, with the search text the service would have written."""
    rows = []
    for index in range(count):
        first, family = name(index) if name else (f"Person{index:05d}", last)
        row = Client(legal_first_name=first, legal_last_name=family, date_of_birth=dob)
        rows.append({"legal_first_name": first, "legal_last_name": family,
                     "date_of_birth": dob, "search_text": search_text_for(row),
                     "sort_name": sort_name_for(row)})
    with storage.db.atomic():
        for start in range(0, len(rows), 500):
            Client.insert_many(rows[start:start + 500]).execute()


def add_portal_account(client: Client, username: str) -> ClientAccount:
    """A client's own portal account, linked to their record as enrolment would link it."""
    with storage.db.connection_context():
        account = ClientAccount.create(username=username, client=client.id,
                                       password_hash=hash_password(PASSWORD))
        PortalLink.create(account=account.id, client=client.id)
        return account


def signed_in(app: Flask, username: str, roles: list[str], full_name: str = "Staff Member",
              **client_kwargs: Any) -> FlaskClient:
    """A fresh browser on `app`, signed in as a new staff member with `roles`."""
    make_staff(username, roles, full_name=full_name)
    browser = app.test_client(**client_kwargs)
    response = login(browser, username)
    assert response.status_code == 302, response.get_data(as_text=True)
    return browser


@pytest.fixture(autouse=True)
def _cheap_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Real argon2id, with the smallest cost: sign-in is exercised, not the CPU."""
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(passwords, "_hasher", cheap)
    monkeypatch.setattr(passwords, "_DUMMY_HASH", cheap.hash("not a real password"))


@pytest.fixture
def biller_client(staff_app: Flask) -> FlaskClient:
    return signed_in(staff_app, "bpatel", ["biller"], "Bina Patel")


@pytest.fixture
def front_desk_client(staff_app: Flask) -> FlaskClient:
    return signed_in(staff_app, "frosa", ["front_desk"], "Fran Rosa")


@pytest.fixture
def portal_client(portal_app: Flask) -> FlaskClient:
    return portal_app.test_client()


# -- client pages ---------------------------------------------------------------
POLICY = {"rank": "1", "payer_name": "Aetna", "payer_id": "60054", "member_id": "W123456789",
          "group_number": "G100", "subscriber_relationship": "self",
          "effective_on": "2026-01-01", "ends_on": ""}

_LISTED = re.compile(r'<td><a href="/clients/(\d+)">')


def form(**changes: Any) -> dict[str, Any]:
    """The full client form with `changes`; a value of None leaves the field out."""
    values = {**FULL_CLIENT_FORM, **changes}
    return {name: value for name, value in values.items() if value is not None}


def listed(response: Any) -> list[int]:
    """Client ids in the order the list page shows them."""
    assert response.status_code == 200
    return [int(found) for found in _LISTED.findall(response.get_data(as_text=True))]


def field_error(response: Any, field: str) -> str:
    match = re.search(rf'id="{field}-error">([^<]*)</p>', text_of(response))
    assert match, f"no error shown for {field}"
    return match.group(1)


def client_entries(action: str, object_type: str = "client") -> list[Any]:
    return audit_entries(action=action, object_type=object_type)
