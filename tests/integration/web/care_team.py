"""A small practice for the scoping tests: two clinicians (A and B), a supervisor S of A,
a biller, a front desk and an admin; clients on each caseload; notes by A and by B.

    from tests.integration.web.care_team import Team, team_fixture  # noqa: F401

    def test_x(team: Team) -> None:
        team.browser("ada").get(f"/clients/{team.b1}")
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from appliance import storage
from tests.conftest import login, make_staff
from tests.integration.web.conftest import SETUP_DESK, TODAY, add_client
from webapp.clients import related_service
from webapp.core.models import StaffUser, Supervision
from webapp.notes import service as notes_service

# username: (full name, roles)
STAFF = {
    "ada": ("Ada Alvarez", ["clinician"]),          # clinician A
    "ben": ("Ben Brooks", ["clinician"]),           # clinician B
    "sam": ("Sam Sato", ["clinician", "supervisor"]),  # supervises A, not B
    "bill": ("Bill Ibsen", ["biller"]),
    "fran": ("Fran Rosa", ["front_desk"]),
    "root": ("Rita Admin", ["admin"]),
}
SHARED_BIRTH_DATE = date(1984, 6, 1)


@dataclass
class Team:
    app: Flask
    users: dict[str, StaffUser]
    a1: int  # Ada's clients
    a2: int
    b1: int  # Ben's client
    s1: int  # Sam's own client
    a1_note: int  # Ada's signed note on a1
    a1_draft: int  # Ada's draft on a1
    b1_note: int  # Ben's signed note on b1
    _browsers: dict[str, FlaskClient] = field(default_factory=dict)

    def browser(self, username: str) -> FlaskClient:
        """A browser signed in as `username` (one per person, reused)."""
        if username not in self._browsers:
            browser = self.app.test_client()
            response = login(browser, username)
            assert response.status_code == 302, response.get_data(as_text=True)
            self._browsers[username] = browser
        return self._browsers[username]

    def user(self, username: str) -> StaffUser:
        return StaffUser.get(StaffUser.username == username)

    @property
    def every_client(self) -> list[int]:
        return [self.a1, self.a2, self.b1, self.s1]

    def note_urls(self, client_id: int, note_id: int) -> list[tuple[str, str]]:
        """Every notes URL for this client and note, with its method."""
        base = f"/clients/{client_id}/notes"
        return [("GET", f"{base}/new"), ("POST", f"{base}/new"),
                ("GET", f"{base}/{note_id}"), ("GET", f"{base}/{note_id}/edit"),
                ("POST", f"{base}/{note_id}/edit"), ("POST", f"{base}/{note_id}/sign")]


def write_note(author: StaffUser, client_id: int, body: str, sign: bool = False) -> int:
    with storage.db.connection_context():
        note = notes_service.create_note(author, client_id, {
            "kind": "progress", "session_date": date(2026, 11, 20), "body": body}, TODAY)
        if sign:
            notes_service.sign_note(author, client_id, note.id)
        return int(note.id)


@pytest.fixture(name="team")
def team_fixture(staff_app: Flask) -> Team:
    users = {name: make_staff(name, roles, full_name=full) for name, (full, roles)
             in STAFF.items()}
    with storage.db.connection_context():
        Supervision.create(supervisor=users["sam"].id, supervisee=users["ada"].id)
    clients = {
        "a1": add_client("Amelia", "Aster", SHARED_BIRTH_DATE),
        "a2": add_client("Arlo", "Ashby", SHARED_BIRTH_DATE),
        "b1": add_client("Beatrix", "Bramble", SHARED_BIRTH_DATE),
        "s1": add_client("Silas", "Sorrel", SHARED_BIRTH_DATE),
    }
    with storage.db.connection_context():
        for key, owner in (("a1", "ada"), ("a2", "ada"), ("b1", "ben"), ("s1", "sam")):
            related_service.assign_clinician(SETUP_DESK, clients[key].id, users[owner].id, True)
    ids: dict[str, Any] = {key: client.id for key, client in clients.items()}
    return Team(app=staff_app, users=users, **ids,
                a1_note=write_note(users["ada"], ids["a1"], "Ada's signed note.", sign=True),
                a1_draft=write_note(users["ada"], ids["a1"], "Ada's draft note."),
                b1_note=write_note(users["ben"], ids["b1"], "Ben's signed note.", sign=True))
