"""Staff provisioning through the console: invitations, roles, disabling, MFA resets and
supervision, each recorded with who and why."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import login, make_staff
from tests.integration.web.conftest import audit_entries, page_token, signed_in, text_of
from webapp.core.models import (
    AccountChange,
    RecoveryCode,
    StaffInvitation,
    StaffUser,
    Supervision,
    WebSession,
)
from webapp.core.provisioning import UNUSABLE_INVITATION
from webapp.core.timeutil import utcnow

NEW_PASSWORD = "lantern orchard pebble quiet"
INVITE = {"username": "RLee", "full_name": "Rae  Lee", "credentials": "LCSW",
          "email": "rae@example.org", "roles": ["clinician", "supervisor"],
          "reason": "New hire, starts Monday"}


@pytest.fixture
def admin_client(staff_app: Flask) -> FlaskClient:
    return signed_in(staff_app, "aadmin", ["admin"], "Ada Admin")


def admin() -> StaffUser:
    return StaffUser.get(StaffUser.username == "aadmin")


def post(browser: FlaskClient, path: str, data: dict[str, Any], page: str) -> Any:
    return browser.post(path, data={"csrf_token": page_token(browser, page), **data})


def invite(browser: FlaskClient, **changes: Any) -> tuple[Any, str | None]:
    """Invite through the console; returns the response and the one-time link's path."""
    response = post(browser, "/admin/staff/invite", {**INVITE, **changes}, "/admin/staff/invite")
    match = re.search(r'value="http://localhost(/welcome/[^"]+)"', text_of(response))
    return response, match.group(1) if match else None


def accept(browser: FlaskClient, link: str, password: str = NEW_PASSWORD,
           confirm: str | None = None) -> Any:
    return browser.post(link, data={"csrf_token": page_token(browser, link),
                                    "password": password, "confirm": confirm or password})


# -- invitations ---------------------------------------------------------------------------

def test_invite_accept_and_sign_in(staff_app: Flask, admin_client: FlaskClient) -> None:
    """Does an invitation give a one-time link (its token stored only as a hash) that
    creates the account with the invited roles, records the approving admin, and lets the
    person sign in?"""
    response, link = invite(admin_client)
    assert response.status_code == 200 and link
    token = link.rsplit("/", 1)[1]
    assert len(token) >= 43  # 32 random bytes, url-safe base64
    [invitation] = StaffInvitation.select()
    assert invitation.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert invitation.approved_by_id == admin().id and invitation.username == "rlee"
    assert timedelta(hours=71, minutes=59) < invitation.expires_at - utcnow() <= timedelta(
        hours=72)
    assert token not in text_of(admin_client.get("/admin/staff/"))  # shown once only
    assert audit_entries(action="invite")[0].object_id == invitation.id

    newcomer = staff_app.test_client()
    page = newcomer.get(link)
    assert page.status_code == 200 and "rlee" in text_of(page)
    response = accept(newcomer, link)
    assert response.status_code == 302 and response.headers["Location"] == "/login"

    user = StaffUser.get(StaffUser.username == "rlee")
    assert user.role_set == {"clinician", "supervisor"} and user.full_name == "Rae Lee"
    assert user.credentials == "LCSW" and user.is_active
    invitation = StaffInvitation.get_by_id(invitation.id)
    assert invitation.accepted_at is not None and invitation.staff_user_id == user.id
    [change] = AccountChange.select().where(AccountChange.staff_user == user.id)
    assert (change.kind, change.changed_by_id, change.reason) == (
        "invited", admin().id, "New hire, starts Monday")
    assert audit_entries(action="create", object_type="staff_user", object_id=user.id)

    assert login(newcomer, "rlee", "not the password").status_code == 401
    signed = login(newcomer, "rlee", NEW_PASSWORD)
    assert signed.status_code == 302 and not signed.headers["Location"].startswith("/login")


def test_a_used_link_is_refused(staff_app: Flask, admin_client: FlaskClient) -> None:
    """Can the same link make a second account or change the first one's password?"""
    _, link = invite(admin_client)
    assert link
    browser = staff_app.test_client()
    token = page_token(browser, link)
    assert accept(browser, link).status_code == 302
    user = StaffUser.get(StaffUser.username == "rlee")
    again = browser.post(link, data={"csrf_token": token, "password": "another fine passphrase",
                                     "confirm": "another fine passphrase"})
    assert again.status_code == 410 and UNUSABLE_INVITATION in text_of(again)
    assert StaffUser.get_by_id(user.id).password_hash == user.password_hash
    assert StaffUser.select().count() == 2


def test_an_expired_link_is_refused(staff_app: Flask, admin_client: FlaskClient) -> None:
    """After 72 hours, does the link say one clear thing and create nothing?"""
    _, link = invite(admin_client)
    assert link
    browser = staff_app.test_client()
    token = page_token(browser, link)
    StaffInvitation.update(expires_at=utcnow() - timedelta(seconds=1)).execute()
    for response in (browser.get(link), browser.post(link, data={
            "csrf_token": token, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})):
        assert response.status_code == 410
        assert UNUSABLE_INVITATION in text_of(response)
        assert "rlee" not in text_of(response)
    assert StaffUser.get_or_none(StaffUser.username == "rlee") is None
    assert StaffInvitation.get().accepted_at is None


def test_withdrawn_and_unknown_links_read_the_same(staff_app: Flask,
                                                   admin_client: FlaskClient) -> None:
    _, link = invite(admin_client)
    assert link
    invitation = StaffInvitation.get()
    response = post(admin_client, f"/admin/staff/invitations/{invitation.id}/revoke", {},
                    "/admin/staff/")
    assert response.status_code == 302
    browser = staff_app.test_client()
    withdrawn, unknown = browser.get(link), browser.get("/welcome/" + "x" * 43)
    assert withdrawn.status_code == unknown.status_code == 410
    assert text_of(withdrawn) == text_of(unknown)
    assert audit_entries(action="revoke")[0].object_id == invitation.id


def test_a_weak_password_is_refused_and_the_link_still_works(
        staff_app: Flask, admin_client: FlaskClient) -> None:
    """Is a common or short password refused at the field, leaving the link usable?"""
    _, link = invite(admin_client)
    assert link
    browser = staff_app.test_client()
    for password, confirm in (("password1234", None), ("short", None),
                              (NEW_PASSWORD, "something else entirely")):
        response = accept(browser, link, password, confirm)
        assert response.status_code == 400
        assert 'class="error"' in text_of(response)
    assert StaffUser.get_or_none(StaffUser.username == "rlee") is None
    assert accept(browser, link).status_code == 302


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"username": "aadmin"}, "username", "taken"),
    ({"username": "no spaces"}, "username", "lower-case letters"),
    ({"full_name": " "}, "full_name", "full name"),
    ({"roles": []}, "roles", "at least one role"),
    ({"roles": ["janitor"]}, "roles", "Unknown role"),
    ({"reason": ""}, "reason", "Say why"),
    ({"email": "not-an-address"}, "email", "e-mail address"),
])
def test_a_bad_invitation_is_refused(admin_client: FlaskClient, changes: dict[str, Any],
                                     field: str, message: str) -> None:
    response, link = invite(admin_client, **changes)
    assert response.status_code == 400 and link is None
    found = re.search(rf'id="{field}-error">([^<]*)<', text_of(response))
    assert found and message in found.group(1)
    assert StaffInvitation.select().count() == 0
    assert audit_entries(action="invite") == []


# -- changing an account --------------------------------------------------------------------

def test_role_change_is_recorded_with_reason(admin_client: FlaskClient) -> None:
    user = make_staff("jchen", ["clinician"])
    path = f"/admin/staff/{user.id}"
    refused = post(admin_client, path + "/roles", {"roles-roles": ["biller"],
                                                   "roles-reason": ""}, path)
    assert refused.status_code == 400 and "Say why" in text_of(refused)
    assert StaffUser.get_by_id(user.id).roles == "clinician"
    response = post(admin_client, path + "/roles", {
        "roles-roles": ["clinician", "supervisor"], "roles-reason": "Promoted to supervisor"},
        path)
    assert response.status_code == 302
    assert StaffUser.get_by_id(user.id).role_set == {"clinician", "supervisor"}
    [change] = AccountChange.select().where(AccountChange.staff_user == user.id)
    assert (change.kind, change.detail, change.reason, change.changed_by_id) == (
        "roles", "clinician -> clinician,supervisor", "Promoted to supervisor", admin().id)
    [entry] = audit_entries(action="role_change")
    assert (entry.object_id, entry.actor_id) == (user.id, admin().id)
    assert "Promoted to supervisor" in text_of(admin_client.get(path))


def test_disabling_ends_an_open_session(staff_app: Flask, admin_client: FlaskClient) -> None:
    """Is a disabled person's open session dead on its very next request, with the change
    recorded with who and why?"""
    victim = signed_in(staff_app, "jchen", ["clinician"], "Julia Chen")
    assert victim.get("/clients/").status_code == 200
    user = StaffUser.get(StaffUser.username == "jchen")
    path = f"/admin/staff/{user.id}"
    response = post(admin_client, path + "/disable", {"disable-reason": "Left the practice"},
                    path)
    assert response.status_code == 302
    after = victim.get("/clients/")
    assert after.status_code == 302 and after.headers["Location"].startswith("/login")
    assert WebSession.select().where(WebSession.principal_id == user.id).count() == 0
    disabled = StaffUser.get_by_id(user.id)
    assert not disabled.is_active and disabled.disabled_at is not None
    [change] = AccountChange.select().where(AccountChange.staff_user == user.id)
    assert (change.kind, change.reason, change.changed_by_id) == (
        "disabled", "Left the practice", admin().id)
    assert audit_entries(action="disable")[0].object_id == user.id
    assert login(staff_app.test_client(), "jchen").status_code == 401

    response = post(admin_client, path + "/enable", {"enable-reason": "Came back"}, path)
    assert response.status_code == 302 and StaffUser.get_by_id(user.id).is_active
    assert login(staff_app.test_client(), "jchen").status_code == 302
    assert [c.kind for c in AccountChange.select().order_by(AccountChange.id)] == [
        "disabled", "enabled"]


def test_disabling_needs_a_reason(admin_client: FlaskClient) -> None:
    user = make_staff("jchen", ["clinician"])
    path = f"/admin/staff/{user.id}"
    response = post(admin_client, path + "/disable", {"disable-reason": " "}, path)
    assert response.status_code == 400 and "Say why" in text_of(response)
    assert StaffUser.get_by_id(user.id).is_active
    assert AccountChange.select().count() == 0 and audit_entries(action="disable") == []


def test_the_last_admin_stays(admin_client: FlaskClient) -> None:
    """Can the only active admin disable themself or drop their own admin role? (No.)
    With a second admin, may they step down from admin? (Yes.) Still never disable
    themself."""
    me = admin()
    path = f"/admin/staff/{me.id}"
    response = post(admin_client, path + "/disable", {"disable-reason": "Testing the guard"},
                    path)
    assert response.status_code == 400 and "your own account" in text_of(response)
    response = post(admin_client, path + "/roles", {"roles-roles": ["clinician"],
                                                    "roles-reason": "Stepping down"}, path)
    assert response.status_code == 400 and "last active admin" in text_of(response)
    assert StaffUser.get_by_id(me.id).role_set == {"admin"} and admin().is_active
    assert AccountChange.select().count() == 0

    make_staff("badmin", ["admin"], full_name="Bo Admin")
    response = post(admin_client, path + "/disable", {"disable-reason": "Testing the guard"},
                    path)
    assert response.status_code == 400 and StaffUser.get_by_id(me.id).is_active
    response = post(admin_client, path + "/roles", {"roles-roles": ["admin", "clinician"],
                                                    "roles-reason": "Also sees clients"}, path)
    assert response.status_code == 302


def test_mfa_reset_clears_the_authenticator(staff_app: Flask,
                                            admin_client: FlaskClient) -> None:
    """Does an MFA reset clear the secret and recovery codes, end sessions, and record why?"""
    victim = signed_in(staff_app, "jchen", ["clinician"], "Julia Chen")
    user = StaffUser.get(StaffUser.username == "jchen")
    assert user.mfa_secret
    RecoveryCode.create(app="staff", principal_id=user.id, code_hash="0" * 64)
    path = f"/admin/staff/{user.id}"
    response = post(admin_client, path + "/mfa-reset", {"mfa-reason": "Lost phone"}, path)
    assert response.status_code == 302
    reset = StaffUser.get_by_id(user.id)
    assert reset.mfa_secret == "" and reset.mfa_enrolled_at is None
    assert RecoveryCode.select().count() == 0
    assert victim.get("/clients/").status_code == 302
    [change] = AccountChange.select()
    assert (change.kind, change.reason) == ("mfa_reset", "Lost phone")
    [entry] = audit_entries(action="mfa", outcome="reset")
    assert (entry.object_id, entry.actor_id) == (user.id, admin().id)


def test_unlock_from_the_account_page(admin_client: FlaskClient) -> None:
    user = make_staff("jchen", ["clinician"])
    StaffUser.update(failed_sign_ins=10, locked_until=utcnow() + timedelta(minutes=9)).execute()
    path = f"/admin/staff/{user.id}"
    assert "Locked until" in text_of(admin_client.get(path))
    assert post(admin_client, path + "/unlock", {}, path).status_code == 302
    unlocked = StaffUser.get_by_id(user.id)
    assert (unlocked.locked_until, unlocked.failed_sign_ins) == (None, 0)
    assert AccountChange.get().kind == "unlocked"
    assert audit_entries(action="unlock")[0].object_id == user.id


def test_assign_supervisees(admin_client: FlaskClient) -> None:
    """Can the admin choose whose caseloads a supervisor sees, and only clinicians'?"""
    boss = make_staff("sboss", ["supervisor"], full_name="Sue Boss")
    first = make_staff("jchen", ["clinician"])
    second = make_staff("mruiz", ["clinician"], full_name="Mo Ruiz")
    biller = make_staff("bpatel", ["biller"], full_name="Bina Patel")
    path = f"/admin/staff/{boss.id}"
    page = text_of(admin_client.get(path))
    assert "Mo Ruiz" in page and "Bina Patel" not in page
    response = post(admin_client, path + "/supervisees",
                    {"sup-supervisees": [str(first.id), str(second.id)]}, path)
    assert response.status_code == 302
    assert {s.supervisee_id for s in Supervision.select()} == {first.id, second.id}
    refused = post(admin_client, path + "/supervisees",
                   {"sup-supervisees": [str(biller.id)]}, path)
    assert refused.status_code == 400 and "Only clinicians" in text_of(refused)
    response = post(admin_client, path + "/supervisees",
                    {"sup-supervisees": [str(second.id)], "sup-reason": "Caseload moved"}, path)
    assert response.status_code == 302
    assert [s.supervisee_id for s in Supervision.select()] == [second.id]
    assert post(admin_client, path + "/supervisees", {}, path).status_code == 302
    assert Supervision.select().count() == 0
    kinds = [(c.kind, c.reason) for c in AccountChange.select().order_by(AccountChange.id)]
    assert kinds == [("supervision", ""), ("supervision", "Caseload moved"),
                     ("supervision", "")]
    assert len(audit_entries(action="supervision_change")) == 3


def test_staff_list_shows_roles_mfa_and_status(admin_client: FlaskClient) -> None:
    make_staff("jchen", ["clinician"])
    make_staff("nomfa", ["biller"], full_name="Nell Nomfa", mfa=False)
    StaffUser.update(is_active=False).where(StaffUser.username == "nomfa").execute()
    page = text_of(admin_client.get("/admin/staff/"))
    assert "Julia Chen" in page and "Clinician" in page and "Enrolled" in page
    assert "Nell Nomfa" in page and "Not set up" in page and "Disabled" in page


def test_unknown_account_is_404(admin_client: FlaskClient) -> None:
    assert admin_client.get("/admin/staff/9999").status_code == 404
    assert post(admin_client, "/admin/staff/9999/disable", {"disable-reason": "whatever"},
                "/admin/staff/").status_code == 404


def test_the_service_refuses_account_changes_by_non_admins(staff_app: Flask) -> None:
    """Called directly, without the console's route guard, does every account change
    refuse a supervisor (who may review break-glass but not manage staff) and change
    nothing?"""
    from appliance.storage import db
    from webapp.access.service import NotPermitted
    from webapp.core import provisioning

    with db.connection_context():
        supervisor = make_staff("ssup", ["supervisor"])
        target = make_staff("ttarget", ["clinician"])
        changes = [
            lambda: provisioning.invite(supervisor, username="newbie", full_name="New Body",
                                        roles=["admin"], reason="I want an admin"),
            lambda: provisioning.change_roles(supervisor, target.id, ["admin"], "Promote"),
            lambda: provisioning.disable(supervisor, target.id, "Because I can"),
            lambda: provisioning.reset_mfa(supervisor, target.id, "Because I can"),
            lambda: provisioning.unlock(supervisor, target.id),
            lambda: provisioning.set_supervisees(supervisor, supervisor.id, [target.id]),
        ]
        for change in changes:
            with pytest.raises(NotPermitted):
                change()
        after = StaffUser.get_by_id(target.id)
        assert (after.roles, after.is_active, after.mfa_secret) == (
            "clinician", True, target.mfa_secret)
        assert StaffInvitation.select().count() == 0
        assert len(audit_entries(action="permission_denied")) == len(changes)
