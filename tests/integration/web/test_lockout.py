"""Failed sign-ins: the account locks after ten in a row, one address is throttled, and
no refusal says which usernames exist."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient

from appliance.config import Settings
from appliance.storage import db, release_shared_lock
from tests.conftest import PASSWORD, login, make_staff, run_hearth
from tests.integration.web.conftest import add_client, add_portal_account, audit_entries, text_of
from webapp import create_staff_app
from webapp.core.models import SignInThrottle, StaffUser
from webapp.core.signin import REFUSED, THROTTLED
from webapp.core.timeutil import utcnow
from webapp.portal.models import ClientAccount


def fail(client: FlaskClient, username: str, times: int, address: str = "10.0.0.5") -> None:
    for _ in range(times):
        client.environ_base["REMOTE_ADDR"] = address
        response = login(client, username, "not the password")
        assert response.status_code == 401


def test_ten_failures_lock_the_account(staff_client: FlaskClient) -> None:
    """After ten wrong passwords, is even the right one refused, with the same words, and is
    the lockout audited?"""
    user = make_staff("jchen", ["clinician"])
    fail(staff_client, "jchen", 9)
    assert StaffUser.get_by_id(user.id).locked_until is None
    fail(staff_client, "jchen", 1)
    locked = StaffUser.get_by_id(user.id)
    assert locked.failed_sign_ins == 10 and locked.locked_until > utcnow()
    assert timedelta(minutes=14) < locked.locked_until - utcnow() <= timedelta(minutes=15)
    response = login(staff_client, "jchen", PASSWORD)
    assert response.status_code == 401
    assert REFUSED in text_of(response)
    [lockout] = audit_entries(action="lockout")
    assert lockout.object_id == user.id
    assert audit_entries(action="login_failed")[-1].outcome == "locked"


def test_a_lock_expires(staff_client: FlaskClient) -> None:
    """Once the lock's time has passed, does the right password work and reset the count?"""
    user = make_staff("jchen", ["clinician"])
    fail(staff_client, "jchen", 10)
    StaffUser.update(locked_until=utcnow() - timedelta(seconds=1)).where(
        StaffUser.id == user.id).execute()
    assert login(staff_client, "jchen", PASSWORD).status_code == 302
    fresh = StaffUser.get_by_id(user.id)
    assert (fresh.failed_sign_ins, fresh.locked_until) == (0, None)


def test_a_success_resets_the_count(staff_client: FlaskClient) -> None:
    """Are failures counted in a row only: does a good sign-in start the count again?"""
    user = make_staff("jchen", ["clinician"])
    fail(staff_client, "jchen", 9)
    assert login(staff_client, "jchen", PASSWORD).status_code == 302
    assert StaffUser.get_by_id(user.id).failed_sign_ins == 0


def test_refusals_do_not_reveal_usernames(staff_client: FlaskClient) -> None:
    """Do an unknown name, a wrong password and a locked account all read the same?"""
    make_staff("jchen", ["clinician"])
    make_staff("locked", ["clinician"], full_name="Lou Locked")
    fail(staff_client, "locked", 10, address="10.0.0.9")
    pages = [text_of(login(staff_client, name, password)) for name, password in
             (("nobody", "whatever"), ("jchen", "wrong"), ("locked", PASSWORD))]
    for page in pages:
        assert REFUSED in page
    assert pages[0].replace("nobody", "") == pages[1].replace("jchen", "")


def test_one_address_is_throttled(staff_app: Flask, settings: Settings) -> None:
    """Past the per-address limit, is that address turned away (before any password check)
    while another address still signs in?"""
    limited = create_staff_app(replace(settings, address_failure_limit=5))
    client = limited.test_client()
    make_staff("jchen", ["clinician"])
    for index in range(5):  # five different usernames: no single account locks
        fail(client, f"guess{index}", 1, address="203.0.113.7")
    client.environ_base["REMOTE_ADDR"] = "203.0.113.7"
    blocked = login(client, "jchen", PASSWORD)
    assert blocked.status_code == 401
    assert THROTTLED.format(minutes=settings.address_window_minutes) in text_of(blocked)
    assert audit_entries(action="login_throttled")
    other = limited.test_client()
    other.environ_base["REMOTE_ADDR"] = "203.0.113.8"
    assert login(other, "jchen", PASSWORD).status_code == 302
    # The window passes: the address may try again.
    SignInThrottle.update(window_started_at=utcnow() - timedelta(hours=1)).execute()
    assert login(client, "jchen", PASSWORD).status_code == 302


def test_the_admin_unlocks_from_the_command_line(staff_client: FlaskClient,
                                                 settings: Settings) -> None:
    """Does `hearth users unlock` end a lockout at once, and say so?"""
    user = make_staff("jchen", ["clinician"])
    fail(staff_client, "jchen", 10)
    db.close()
    release_shared_lock()
    result = run_hearth(settings.layout, "users", "unlock", "JChen")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "unlocked jchen"
    missing = run_hearth(settings.layout, "users", "unlock", "nobody")
    assert missing.returncode == 2
    assert missing.stderr.strip() == "hearth: there is no staff account named 'nobody'"
    with db.connection_context():
        assert StaffUser.get_by_id(user.id).locked_until is None
        assert audit_entries(action="unlock")[0].object_id == user.id
    assert login(staff_client, "jchen", PASSWORD).status_code == 302


def test_portal_accounts_lock_too(portal_app: Flask) -> None:
    """Does a client's portal account lock after ten failures, like a staff account?"""
    account = add_portal_account(add_client(), "ana@mail.example")
    client = portal_app.test_client()
    fail(client, "ana@mail.example", 10)
    assert ClientAccount.get_by_id(account.id).locked_until is not None
    assert login(client, "ana@mail.example", PASSWORD).status_code == 401
