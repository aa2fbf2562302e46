"""Alerts: each fires at its threshold and not below it, on the console's dashboard and
as a `hearth check` warning (the real command, run as a subprocess).

The bursts are made the way they happen: wrong passwords posted to the sign-in page,
pages a clinician may not open; break-glass through the access service; the chain's
state through `hearth audit verify`.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from appliance.config import Settings
from appliance.paths import Layout
from appliance.storage import db
from tests.conftest import PASSWORD, csrf_token, make_staff, run_hearth
from tests.integration.web.conftest import (  # noqa: F401  (an autouse fixture)
    _cheap_password_hashes,
    add_client,
    signed_in,
    text_of,
    words_of,
)
from webapp.access.models import BreakGlassGrant
from webapp.access.service import open_break_glass, review_grant
from webapp.audit import alerts
from webapp.audit.alerts import THRESHOLDS, current_alerts
from webapp.audit.models import AuditEntry
from webapp.core.models import StaffUser
from webapp.core.timeutil import utcnow


def fail_sign_ins(app: Flask, username: str, times: int, first_address: int = 1) -> None:
    """Wrong passwords, each from its own address (as a spread-out attack would come)."""
    for n in range(times):
        address = f"198.51.100.{first_address + n}"
        browser = app.test_client()
        response = browser.post("/login", data={
            "csrf_token": csrf_token(browser, environ_base={"REMOTE_ADDR": address}),
            "username": username, "password": PASSWORD + "x"},
            environ_base={"REMOTE_ADDR": address})
        assert response.status_code in (200, 401), response.status_code


def kinds(now: datetime | None = None, layout: Layout | None = None) -> list[str]:
    with db.connection_context():
        assert layout is not None
        return [alert.kind for alert in current_alerts(layout, now)]


def check_warning(layout: Layout) -> dict[str, str]:
    result = run_hearth(layout, "check", "--json")
    assert result.returncode in (0, 1), result.stderr
    found = {row["name"]: row for row in json.loads(result.stdout)}
    row: dict[str, str] = found["audit alerts"]
    return row


def dashboard(admin: FlaskClient) -> str:
    page = admin.get("/admin/")
    assert page.status_code == 200
    return text_of(page)


def test_failed_sign_in_bursts(staff_app: Flask, settings: Settings) -> None:
    """19 failures overall and 4 for one account raise nothing; one more wrong password
    for that account makes 20 and 5: both alerts, on the dashboard and in `hearth check`;
    a quarter of an hour later they are gone."""
    layout = settings.layout
    admin = signed_in(staff_app, "rita", ["admin"], "Rita Admin")
    ben = make_staff("ben", ["clinician"], full_name="Ben Brooks")
    assert THRESHOLDS.failed_sign_ins == 20 and THRESHOLDS.failed_sign_ins_per_account == 5
    fail_sign_ins(staff_app, "ben", 4)
    fail_sign_ins(staff_app, "nobody-here", 15, first_address=50)
    with db.connection_context():
        assert AuditEntry.select().where(AuditEntry.action == "login_failed").count() == 19
    assert kinds(layout=layout) == []
    assert "failed sign-ins in the last" not in dashboard(admin)
    assert check_warning(layout) == {"name": "audit alerts", "status": "ok",
                                     "detail": "nothing needs attention"}

    fail_sign_ins(staff_app, "ben", 1, first_address=100)
    assert kinds(layout=layout) == ["failed_sign_ins", "failed_sign_ins"]
    page = dashboard(admin)
    overall = "20 failed sign-ins in the last 15 minutes, across all accounts."
    one = f"5 failed sign-ins for account #{ben.id} in the last 15 minutes."
    assert overall in page and one in page
    assert "/admin/audit/?action=login_failed" in page
    warning = check_warning(layout)
    assert warning["status"] == "warn"
    assert overall in warning["detail"] and one in warning["detail"]
    assert "nobody-here" not in warning["detail"] and "ben" not in warning["detail"]
    # The window moves on.
    assert kinds(utcnow() + THRESHOLDS.failed_sign_in_window + timedelta(seconds=5),
                 layout) == []


def test_permission_denied_bursts(staff_app: Flask, settings: Settings) -> None:
    """Nine refusals for one person in an hour raise nothing (nor ten spread over two
    people); the tenth for the same person does."""
    layout = settings.layout
    admin = signed_in(staff_app, "rita", ["admin"], "Rita Admin")
    cal = signed_in(staff_app, "cal", ["clinician"], "Cal Clinician")
    dee = signed_in(staff_app, "dee", ["front_desk"], "Dee Desk")
    for _ in range(9):
        assert cal.get("/admin/").status_code == 403
    assert dee.get("/admin/staff/").status_code == 403
    assert kinds(layout=layout) == []
    assert "was refused" not in dashboard(admin)
    assert check_warning(layout)["status"] == "ok"

    assert cal.get("/admin/audit/").status_code == 403
    assert kinds(layout=layout) == ["refusals"]
    message = "Cal Clinician (cal) was refused 10 times in the last hour."
    page = dashboard(admin)
    assert message in page and "Dee Desk" not in page
    assert "/admin/audit/?action=permission_denied&amp;user=cal" in admin.get(
        "/admin/").get_data(as_text=True)
    warning = check_warning(layout)
    assert warning["status"] == "warn" and message in warning["detail"]
    assert kinds(utcnow() + THRESHOLDS.refusal_window + timedelta(seconds=5), layout) == []


def test_break_glass_use_waiting_for_review(staff_app: Flask, settings: Settings) -> None:
    """Unreviewed break-glass use in the last seven days is an alert; once reviewed, or
    when it is older, it is not (an older one still waits in the review queue)."""
    layout = settings.layout
    admin = signed_in(staff_app, "rita", ["admin"], "Rita Admin")
    client = add_client("Ana", "Núñez")
    cal = make_staff("cal", ["clinician"], full_name="Cal Clinician")
    assert kinds(layout=layout) == []
    assert check_warning(layout)["status"] == "ok"

    with db.connection_context():
        grant = open_break_glass(cal, client.id, "Crisis call from the ER at night")
    assert kinds(layout=layout) == ["break_glass"]
    message = "1 break-glass access waiting for review, used in the last 7 days."
    assert message in dashboard(admin)
    warning = check_warning(layout)
    assert warning["status"] == "warn" and warning["detail"] == message
    assert "Núñez" not in warning["detail"]

    with db.atomic():
        BreakGlassGrant.update(started_at=utcnow() - THRESHOLDS.break_glass_window
                               - timedelta(minutes=1)).where(
            BreakGlassGrant.id == grant.id).execute()
    assert kinds(layout=layout) == []
    page = dashboard(admin)
    assert "used in the last 7 days" not in page
    assert "1 break-glass access waiting for review." in page  # still in the queue
    assert check_warning(layout)["status"] == "ok"

    with db.connection_context():
        grant = open_break_glass(cal, client.id, "Second crisis call from the ER")
        review_grant(StaffUser.get(StaffUser.username == "rita"), grant.id, "Checked")
    assert kinds(layout=layout) == []


def test_audit_verification_failures(staff_app: Flask, settings: Settings) -> None:
    """A young trail never verified raises nothing; one older than seven days does; a
    verification that found the trail altered does, naming the entry."""
    layout = settings.layout
    admin = signed_in(staff_app, "rita", ["admin"], "Rita Admin")
    assert kinds(layout=layout) == []
    assert "Last verification of the chain: never" in dashboard(admin)

    # An entry from eight days ago, written straight into the table (not sealed).
    with db.atomic():
        forged = AuditEntry.create(occurred_at=utcnow() - timedelta(days=8),
                                   actor_kind="system", action="view", object_type="client")
    assert kinds(layout=layout) == ["audit_verification"]
    never = "The audit trail has never been verified: run `hearth audit verify`."
    assert never in dashboard(admin)
    warning = check_warning(layout)
    assert warning["status"] == "warn" and warning["detail"] == never

    assert run_hearth(layout, "audit", "verify").returncode == 1
    assert kinds(layout=layout) == ["audit_verification"]
    with db.connection_context():
        found = alerts.last_verification(layout)
    assert found is not None and not found.ok and found.first_broken_id == forged.id
    altered = f"The last audit verification found the trail altered at entry #{forged.id}."
    page = dashboard(admin)
    assert altered in page and "altered" in page
    trail = text_of(admin.get("/admin/audit/"))
    assert "Altered" in trail and f"first breaks at entry #{forged.id}" in trail
    warning = check_warning(layout)
    assert warning["status"] == "warn" and warning["detail"] == altered


def test_a_verification_older_than_seven_days(staff_app: Flask, settings: Settings) -> None:
    """An intact verification raises nothing until it is seven days old."""
    layout = settings.layout
    admin = signed_in(staff_app, "rita", ["admin"], "Rita Admin")
    assert admin.get("/admin/audit/").status_code == 200
    result = run_hearth(layout, "audit", "verify")
    assert result.returncode == 0, result.stdout + result.stderr
    with db.connection_context():
        found = alerts.last_verification(layout)
        assert found is not None and found.ok and found.at is not None
        limit = THRESHOLDS.verification_max_age
        assert alerts.verification_alerts(found, found.at + limit) == []
        late: list[Any] = alerts.verification_alerts(found, found.at + limit
                                                     + timedelta(minutes=1))
    assert [a.message for a in late] == [
        "The audit trail has not been verified in the last 7 days: run `hearth audit verify`."]
    assert kinds(layout=layout) == []
    assert check_warning(layout)["status"] == "ok"
    assert "Last verification of the chain: intact" in words_of(admin.get("/admin/"))
    assert "Intact" in text_of(admin.get("/admin/audit/"))
