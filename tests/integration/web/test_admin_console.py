"""The admin console: who may reach it, what its pages look like, and the smaller views
(settings, lockouts, break-glass review, outbox, dashboard)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import make_staff
from tests.integration.web.conftest import (
    add_client,
    add_portal_account,
    audit_entries,
    page_token,
    signed_in,
    text_of,
)
from webapp.access.models import BreakGlassGrant
from webapp.access.service import open_break_glass
from webapp.admin.models import BusinessAssociate, BusinessAssociateDocument
from webapp.core import practice_settings
from webapp.core.models import PracticeSetting, StaffInvitation, StaffUser
from webapp.core.timeutil import utcnow
from webapp.mail.models import OutgoingMail
from webapp.portal.models import ClientAccount
from webapp.scheduling.models import AppointmentType, Room

NON_ADMIN_ROLES = ["clinician", "biller", "front_desk", "supervisor"]
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)


@pytest.fixture
def admin_client(staff_app: Flask) -> FlaskClient:
    return signed_in(staff_app, "aadmin", ["admin"], "Ada Admin")


def some_of_everything() -> dict[str, int]:
    """One row of each thing a console URL can point at, so every URL has a real target."""
    staff = StaffUser.get(StaffUser.username == "aadmin")
    entry = BusinessAssociate.create(vendor="Acme Fax", service="Fax")
    document = BusinessAssociateDocument.create(
        business_associate=entry.id, kind="agreement", filename="baa.pdf",
        content_type="application/pdf", content=b"%PDF-1.4 test")
    mail = OutgoingMail.create(purpose="test", to_address="a@example.org", subject="Hello",
                               body="Body")
    invitation = StaffInvitation.create(
        token_hash="0" * 64, username="pending", full_name="Pat Pending", roles="biller",
        approved_by=staff.id, reason="test", expires_at=utcnow() + timedelta(hours=1))
    client = add_client()
    clinician = StaffUser.get_or_none(StaffUser.username == "cclin") or StaffUser.create(
        username="cclin", full_name="Cal Clinician", roles="clinician", password_hash="x")
    grant = open_break_glass(clinician, client.id, "Crisis call from the ER, records needed")
    return {"user_id": staff.id, "entry_id": entry.id, "document_id": document.id,
            "mail_id": mail.id, "invitation_id": invitation.id, "grant_id": grant.id,
            "account_id": staff.id, "kind": "staff",  # type: ignore[dict-item]
            "client_id": client.id,
            "type_id": AppointmentType.get_or_create(name="Console session")[0].id,
            "room_id": Room.get_or_create(name="Console room")[0].id}


def console_urls(app: Flask, ids: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(method, url, endpoint) for every rule the console added, filled with real ids."""
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/admin") or rule.endpoint.endswith("static"):
            continue
        url = rule.rule
        for argument in rule.arguments:
            url = url.replace(f"<int:{argument}>", str(ids[argument])).replace(
                f"<{argument}>", str(ids[argument]))
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((method, url, rule.endpoint))
    return found


# The one console page that is not the admin's alone: supervisors review break-glass too.
SHARED_WITH_SUPERVISORS = ("/admin/break-glass/",)


def test_every_console_endpoint_declares_the_admin_permission(staff_app: Flask) -> None:
    """Does the deny-by-default guard see `admin.console` on every /admin endpoint, and
    `break_glass.review` on the review queue only?"""
    endpoints = {rule.endpoint: rule.rule for rule in staff_app.url_map.iter_rules()
                 if rule.rule.startswith("/admin")}
    assert len(endpoints) > 20
    for endpoint, rule in endpoints.items():
        view = staff_app.view_functions[endpoint]
        wanted = ("break_glass.review" if rule.startswith(SHARED_WITH_SUPERVISORS)
                  else "audit.view" if rule.startswith("/admin/audit/") else "admin.console")
        assert getattr(view, "_hearth_permission", None) == wanted, endpoint


@pytest.mark.parametrize("role", NON_ADMIN_ROLES)
def test_other_roles_get_403_everywhere(staff_app: Flask, role: str) -> None:
    """Can a clinician, biller, front desk or supervisor reach any console URL, by any
    method? Each refusal is audited as permission_denied."""
    browser = signed_in(staff_app, "someone", [role], "Sam Someone")
    make_admin = signed_in(staff_app, "aadmin", ["admin"], "Ada Admin")
    assert make_admin.get("/admin/").status_code == 200
    ids = some_of_everything()
    token = page_token(browser, "/clients/")
    denied_before = len(audit_entries(action="permission_denied"))
    urls = [(method, url, rule) for method, url, rule in console_urls(staff_app, ids)
            if not (role == "supervisor" and url.startswith(SHARED_WITH_SUPERVISORS))]
    for method, url, _ in urls:
        data = {"csrf_token": token, "reason": "a good long reason", "roles": "admin"}
        response = browser.open(url, method=method, data=data if method == "POST" else None)
        assert response.status_code == 403, (method, url, response.status_code)
    assert len(audit_entries(action="permission_denied")) - denied_before == len(urls)
    assert StaffUser.get(StaffUser.username == "someone").roles == role
    assert StaffUser.get(StaffUser.username == "aadmin").is_active


def test_anonymous_is_sent_to_sign_in(staff_app: Flask) -> None:
    """Does a browser without a session get the sign-in page for every console page?"""
    signed_in(staff_app, "aadmin", ["admin"], "Ada Admin")
    ids = some_of_everything()
    browser = staff_app.test_client()
    for method, url, _ in console_urls(staff_app, ids):
        if method != "GET":
            continue
        response = browser.get(url)
        assert response.status_code == 302, url
        assert response.headers["Location"].startswith("/login?next="), url


def test_admin_reaches_every_page_without_inline_script(admin_client: FlaskClient,
                                                        staff_app: Flask) -> None:
    """Does every console page open for an admin, framed like the staff app, with no
    inline script or style (the CSP would block them)?"""
    ids = some_of_everything()
    pages = [(url, endpoint) for method, url, endpoint in console_urls(staff_app, ids)
             if method == "GET"]
    assert len(pages) >= 12
    for url, endpoint in pages:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        if endpoint == "admin_register.download":
            assert response.data == b"%PDF-1.4 test"
            assert response.headers["Content-Disposition"].startswith("attachment")
            continue
        if endpoint.startswith("admin_audit.") and endpoint.endswith(("_csv", "_json")):
            assert response.headers["Content-Disposition"].startswith("attachment")
            assert response.get_data()  # read the streamed file to its end
            continue  # the audit trail's exports (tests/integration/web/test_audit_review.py)
        page = response.get_data(as_text=True)
        assert not INLINE_SCRIPT.search(page), url
        assert " style=" not in page and "<style" not in page, url
        assert "hearth.css" in page and 'class="topbar"' in page, url
        assert "Admin console" in page, url
        assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")


def test_the_staff_nav_links_the_console_for_admins_only(admin_client: FlaskClient,
                                                         staff_app: Flask) -> None:
    """Is the Admin link in the top bar for an admin and absent for a clinician?"""
    assert 'href="/admin/"' in admin_client.get("/clients/").get_data(as_text=True)
    clinician = signed_in(staff_app, "cclin", ["clinician"], "Cal Clinician")
    assert 'href="/admin/"' not in clinician.get("/clients/").get_data(as_text=True)


# -- settings ----------------------------------------------------------------------------

def settings_form(**changes: str) -> dict[str, str]:
    values = practice_settings.raw_values()
    values.update(changes)
    return values


def test_settings_form_saves_good_values(admin_client: FlaskClient) -> None:
    """Does a valid change reach the setting, audited, and leave the rest alone?"""
    token = page_token(admin_client, "/admin/settings/")
    response = admin_client.post("/admin/settings/", data={
        "csrf_token": token, **settings_form(idle_timeout_minutes="20",
                                             mfa_optional_roles="biller")})
    assert response.status_code == 302
    practice_settings.forget_cache()
    assert practice_settings.get("idle_timeout_minutes") == 20
    assert practice_settings.get("mfa_optional_roles") == frozenset({"biller"})
    assert practice_settings.get("password_min_length") == 12
    assert {e.object_type for e in audit_entries(action="config_change")} == {
        "setting.idle_timeout_minutes", "setting.mfa_optional_roles"}


@pytest.mark.parametrize(("name", "value", "message"), [
    ("idle_timeout_minutes", "0", "Enter a whole number from 2 to 60."),
    ("password_min_length", "seven", "Enter a whole number from 8 to 64."),
    ("mfa_optional_roles", "admin", "always required for admins"),
    ("mfa_optional_roles", "janitor", "Unknown role"),
])
def test_settings_form_refuses_bad_values(admin_client: FlaskClient, name: str, value: str,
                                          message: str) -> None:
    """Is a bad value shown at its field, and is nothing at all stored, not even the good
    values sent with it?"""
    token = page_token(admin_client, "/admin/settings/")
    response = admin_client.post("/admin/settings/", data={
        "csrf_token": token, **settings_form(break_glass_minutes="30", **{name: value})})
    assert response.status_code == 400
    assert re.search(rf'id="{name}-error">[^<]*{re.escape(message)}', text_of(response))
    assert PracticeSetting.select().count() == 0
    assert audit_entries(action="config_change") == []


# -- lockouts ----------------------------------------------------------------------------

def test_lockouts_list_and_unlock_staff_and_portal(admin_client: FlaskClient) -> None:
    """Are locked staff and portal accounts listed, and does Unlock end each lock?"""
    later = utcnow() + timedelta(minutes=10)
    staff = StaffUser.create(username="locked", full_name="Lou Locked", roles="biller",
                             password_hash="x", failed_sign_ins=10, locked_until=later)
    account = add_portal_account(add_client(), "client@example.org")
    ClientAccount.update(failed_sign_ins=10, locked_until=later).where(
        ClientAccount.id == account.id).execute()
    page = text_of(admin_client.get("/admin/lockouts/"))
    assert "locked" in page and "client@example.org" in page
    assert "2 accounts locked" in text_of(admin_client.get("/admin/"))
    token = page_token(admin_client, "/admin/lockouts/")
    for kind, account_id in (("staff", staff.id), ("portal", account.id)):
        response = admin_client.post(f"/admin/lockouts/{kind}/{account_id}/unlock",
                                     data={"csrf_token": token})
        assert response.status_code == 302
    assert StaffUser.get_by_id(staff.id).locked_until is None
    assert ClientAccount.get_by_id(account.id).locked_until is None
    assert len(audit_entries(action="unlock")) == 2
    assert "No account is locked" in text_of(admin_client.get("/admin/lockouts/"))
    assert admin_client.post("/admin/lockouts/other/1/unlock",
                             data={"csrf_token": token}).status_code == 404


# -- break-glass review ------------------------------------------------------------------

def test_break_glass_review_marks_reviewed(admin_client: FlaskClient) -> None:
    """Does the queue show who, which client, why and whether it is still open, and does
    Mark reviewed take it off the queue with the reviewer recorded?"""
    ids = some_of_everything()
    page = text_of(admin_client.get("/admin/break-glass/"))
    assert "Cal Clinician" in page and "Crisis call from the ER" in page
    assert "Ana Núñez" in page and "Active until" in page
    assert "1 break-glass access waiting for review" in text_of(admin_client.get("/admin/"))
    token = page_token(admin_client, "/admin/break-glass/")
    response = admin_client.post(f"/admin/break-glass/{ids['grant_id']}/review",
                                 data={"csrf_token": token, "note": "Confirmed with the ER"})
    assert response.status_code == 302
    grant = BreakGlassGrant.get_by_id(ids["grant_id"])
    assert grant.reviewed_by_id == StaffUser.get(StaffUser.username == "aadmin").id
    assert grant.review_note == "Confirmed with the ER"
    assert audit_entries(action="review")[0].object_id == grant.id
    assert "Nothing waits for review" in text_of(admin_client.get("/admin/break-glass/"))


def test_nobody_reviews_their_own_break_glass(staff_app: Flask) -> None:
    """Can an admin who is also a clinician mark their own break-glass access reviewed?
    And can a plain clinician review anything?"""
    both = signed_in(staff_app, "dual", ["admin", "clinician"], "Dee Dual")
    client = add_client()
    grant = open_break_glass(StaffUser.get(StaffUser.username == "dual"), client.id,
                             "Covering for a colleague on leave today")
    page = text_of(both.get("/admin/break-glass/"))
    assert "Your own" in page
    token = page_token(both, "/admin/break-glass/")
    response = both.post(f"/admin/break-glass/{grant.id}/review", data={"csrf_token": token},
                         follow_redirects=True)
    assert "Someone else must review" in text_of(response)
    assert BreakGlassGrant.get_by_id(grant.id).reviewed_at is None

    clinician = signed_in(staff_app, "cclin", ["clinician"], "Cal Clinician")
    token = page_token(clinician, "/clients/")
    assert clinician.post(f"/admin/break-glass/{grant.id}/review",
                          data={"csrf_token": token}).status_code == 403
    assert BreakGlassGrant.get_by_id(grant.id).reviewed_at is None


def test_a_supervisor_works_the_review_queue_but_nothing_else(staff_app: Flask) -> None:
    """Can a supervisor (no admin role) find the review queue from the menu and mark a
    grant reviewed, while the rest of the console stays closed to them?"""
    client = add_client()
    clinician = make_staff("cclin", ["clinician"], full_name="Cal Clinician")
    grant = open_break_glass(clinician, client.id, "Crisis call from the ER at night")
    supervisor = signed_in(staff_app, "ssup", ["supervisor"], "Sue Supervisor")
    home = text_of(supervisor.get("/clients/"))
    assert "Break-glass review" in home and ">Admin<" not in home
    queue = supervisor.get("/admin/break-glass/")
    assert queue.status_code == 200 and "Crisis call from the ER" in text_of(queue)
    assert ">Staff<" not in text_of(queue)  # the console menu shows only what they may open
    token = page_token(supervisor, "/admin/break-glass/")
    assert supervisor.post(f"/admin/break-glass/{grant.id}/review",
                           data={"csrf_token": token}).status_code == 302
    reviewed = BreakGlassGrant.get_by_id(grant.id)
    assert reviewed.reviewed_by_id == StaffUser.get(StaffUser.username == "ssup").id
    for url in ("/admin/", "/admin/staff/", "/admin/settings/"):
        assert supervisor.get(url).status_code == 403, url


# -- outbox and dashboard ------------------------------------------------------------------

def test_outbox_lists_and_shows_mail_read_only(admin_client: FlaskClient) -> None:
    """Does the outbox list kept mail and show a message, with each read audited, and
    refuse any change?"""
    mail = OutgoingMail.create(purpose="portal_code", to_address="c@example.org",
                               subject="Your code", body="Your code is 123456")
    assert "Your code" in text_of(admin_client.get("/admin/outbox/"))
    assert "Your code is 123456" in text_of(admin_client.get(f"/admin/outbox/{mail.id}"))
    assert [e.object_type for e in audit_entries(action="view")] == ["outbox",
                                                                     "outgoing_mail"]
    token = page_token(admin_client, "/admin/outbox/")
    assert admin_client.post(f"/admin/outbox/{mail.id}",
                             data={"csrf_token": token}).status_code == 405
    assert admin_client.get("/admin/outbox/999").status_code == 404


def test_dashboard_is_calm_when_nothing_waits(admin_client: FlaskClient) -> None:
    page = text_of(admin_client.get("/admin/"))
    assert "Nothing needs your attention" in page

