"""A staff member's own account page: password change, sign out everywhere, MFA status;
the password policy on new accounts; demo staff with TOTP secrets."""

from __future__ import annotations

import json
from typing import Any

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient

from appliance.config import Settings
from appliance.storage import db
from tests.conftest import PASSWORD, login, make_staff
from tests.integration.web.conftest import audit_entries, page_token, text_of
from webapp.core import mfa, practice_settings
from webapp.core.accounts import create_staff_user, generate_password
from webapp.core.models import StaffUser, WebSession
from webapp.core.passwords import verify_password
from webapp.core.sessions import token_hash

NEW_PASSWORD = "lantern orchard copper summit"


def browsers(app: Flask, count: int, username: str = "jchen") -> list[FlaskClient]:
    signed = []
    for _ in range(count):
        browser = app.test_client()
        assert login(browser, username).status_code == 302
        signed.append(browser)
    return signed


def sessions_of(user_id: int) -> set[str]:
    return {row.token_hash for row in WebSession.select().where(
        (WebSession.app == "staff") & (WebSession.principal_id == user_id))}


def hash_of(browser: FlaskClient) -> str:
    cookie = browser.get_cookie("hearth_staff")
    assert cookie is not None
    return token_hash(cookie.value)


def change(browser: FlaskClient, current: str, new: str, again: str | None = None) -> Any:
    return browser.post("/account/password", data={
        "csrf_token": page_token(browser, "/account"), "current_password": current,
        "new_password": new, "confirm_password": new if again is None else again})


def test_the_account_page_shows_mfa_status_and_recovery_codes_left(staff_app: Flask) -> None:
    """Does /account say two-step sign-in is on and how many recovery codes are left?"""
    user = make_staff("jchen", ["clinician"])
    with db.connection_context():
        codes = mfa.new_recovery_codes("staff", user.id)
        mfa.use_recovery_code("staff", user.id, codes[0])
    [browser] = browsers(staff_app, 1)
    page = browser.get("/account")
    assert page.status_code == 200
    body = text_of(page)
    assert "Two-step sign-in" in body and ">On<" in body
    assert '<strong id="recovery-codes-left">9</strong>' in body
    for name in ("current_password", "new_password", "confirm_password"):
        assert f'<label for="{name}">' in body
    assert 'action="/account/sign-out-everywhere"' in body


def test_changing_the_password_ends_every_other_session(staff_app: Flask) -> None:
    """Does a password change keep this browser signed in, end the user's other sessions
    (not other people's), store a new argon2 hash and the time, and write one audit entry?"""
    user = make_staff("jchen", ["clinician"])
    make_staff("mdiaz", ["clinician"], full_name="Mateo Diaz")
    here, there, elsewhere = browsers(staff_app, 3)
    [colleague] = browsers(staff_app, 1, "mdiaz")
    response = change(here, PASSWORD, NEW_PASSWORD)
    assert response.status_code == 302 and response.headers["Location"] == "/account"
    assert "Your password is changed. 2 other sessions ended." in text_of(here.get("/account"))
    assert sessions_of(user.id) == {hash_of(here)}
    for ended in (there, elsewhere):
        assert ended.get("/clients/").status_code == 302
    assert colleague.get("/clients/").status_code == 200
    fresh = StaffUser.get_by_id(user.id)
    assert fresh.password_hash.startswith("$argon2id$")
    assert verify_password(fresh.password_hash, NEW_PASSWORD)
    assert fresh.password_changed_at is not None
    [entry] = audit_entries(action="password_change")
    assert (entry.actor_id, entry.object_id, entry.object_type) == (user.id, user.id,
                                                                    "staff_account")
    assert login(staff_app.test_client(), "jchen").status_code == 401
    assert login(staff_app.test_client(), "jchen", NEW_PASSWORD).status_code == 302


@pytest.mark.parametrize(("current", "new", "again", "message"), [
    ("not my password", NEW_PASSWORD, None, "That is not your current password."),
    (PASSWORD, "short", None, "Use at least 12 characters"),
    (PASSWORD, "password1234", None, "on a list of passwords attackers try first"),
    (PASSWORD, "Julia Chen", None, "Use at least 12 characters"),
    (PASSWORD, "juliachen2024", None, "own name, username or e-mail"),
    (PASSWORD, NEW_PASSWORD, "lantern orchard copper", "The two new passwords are not the same."),
])
def test_a_refused_password_change_changes_nothing(staff_app: Flask, current: str, new: str,
                                                   again: str | None, message: str) -> None:
    """Is a wrong current password, a new one the policy refuses, or a mistyped repeat
    refused with the reason, leaving the hash and every session as they were?"""
    user = make_staff("jchen", ["clinician"])
    here, there = browsers(staff_app, 2)
    before = StaffUser.get_by_id(user.id).password_hash
    response = change(here, current, new, again)
    assert response.status_code == 400
    assert message in text_of(response)
    assert StaffUser.get_by_id(user.id).password_hash == before
    assert sessions_of(user.id) == {hash_of(here), hash_of(there)}
    assert not audit_entries(action="password_change")


def test_sign_out_everywhere_ends_every_session(staff_app: Flask) -> None:
    """Does "sign out everywhere" end all of the user's sessions, this one included, and
    record one `logout` entry for all sessions?"""
    user = make_staff("jchen", ["clinician"])
    here, there = browsers(staff_app, 2)
    response = here.post("/account/sign-out-everywhere",
                         data={"csrf_token": page_token(here, "/account")})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert "signed out on every device" in text_of(here.get("/login"))
    assert sessions_of(user.id) == set()
    for browser in (here, there):
        assert browser.get("/clients/").status_code == 302
    [entry] = [e for e in audit_entries(action="logout")]
    assert (entry.object_type, entry.object_id, entry.actor_id) == ("all_sessions", user.id,
                                                                    user.id)


def test_sign_out_everywhere_is_post_with_csrf_only(staff_app: Flask) -> None:
    """Can a link or a forged form sign someone out everywhere?"""
    user = make_staff("jchen", ["clinician"])
    [browser] = browsers(staff_app, 1)
    assert browser.get("/account/sign-out-everywhere").status_code == 405
    assert browser.post("/account/sign-out-everywhere").status_code == 400
    assert len(sessions_of(user.id)) == 1


# -- new accounts ------------------------------------------------------------------------

def test_new_accounts_follow_the_password_policy(settings: Settings) -> None:
    """Does create_staff_user refuse a common or too-short password (creating nothing), and
    does the generated first password meet even a raised minimum?"""
    with db.connection_context():
        for weak in ("password1234", "short"):
            with pytest.raises(ValueError):
                create_staff_user("jchen", "Julia Chen", ["clinician"], weak)
        assert not StaffUser.select().exists()
        practice_settings.change("password_min_length", "40", actor_id=None)
        first = generate_password(username="jchen", full_name="Julia Chen")
        assert len(first) >= 40
        user = create_staff_user("jchen", "Julia Chen", ["clinician"], first)
        assert user.password_changed_at is not None


def test_demo_staff_have_totp_secrets_that_sign_in(settings: Settings,
                                                   staff_app: Flask) -> None:
    """Are the demo staff enrolled in TOTP, with the secret in demo-credentials.json, so a
    newcomer can sign in with the password and a code from their app?"""
    from webapp.demo import load_demo

    load_demo(settings.layout, client_count=2)
    credentials = json.loads(settings.layout.demo_credentials.read_text())
    staff = credentials["staff"]
    assert all(len(person["totp_secret"]) == 32 for person in staff)
    assert len({person["totp_secret"] for person in staff}) == len(staff)
    person = next(p for p in staff if "clinician" in p["roles"])
    browser = staff_app.test_client()
    first = browser.post("/login", data={"csrf_token": page_token(browser, "/login"),
                                         "username": person["username"],
                                         "password": person["password"]})
    assert first.headers["Location"] == "/login/code"
    done = browser.post("/login/code", data={
        "csrf_token": page_token(browser, "/login/code"),
        "code": pyotp.TOTP(person["totp_secret"]).now()})
    assert done.status_code == 302 and done.headers["Location"] == "/clients/"
