"""Two-step sign-in: the code step, replay, lockout, recovery codes, required enrolment,
enrolment itself and re-authentication before MFA changes."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient

from appliance.storage import db
from tests.conftest import PASSWORD, TOTP_SECRET, csrf_token, login, make_staff, totp_code
from tests.integration.web.conftest import (
    add_client,
    add_portal_account,
    audit_entries,
    page_token,
    post_form,
    text_of,
)
from webapp.core import mfa, practice_settings
from webapp.core.models import RecoveryCode, StaffUser, WebSession
from webapp.core.sessions import token_hash
from webapp.core.signin import CODE_REFUSED, REFUSED
from webapp.core.views import START_AGAIN
from webapp.portal.models import ClientAccount


def password_step(browser: FlaskClient, username: str, password: str = PASSWORD,
                  next_path: str | None = None) -> Any:
    path = "/login" + (f"?next={next_path}" if next_path else "")
    return browser.post(path, data={"csrf_token": csrf_token(browser, path),
                                    "username": username, "password": password})


def code_step(browser: FlaskClient, code: str) -> Any:
    return browser.post("/login/code", data={"csrf_token": csrf_token(browser, "/login/code"),
                                             "code": code})


def steady_step() -> None:
    """Wait (at most two seconds) if a 30-second step is about to turn, so a code made
    now is checked within the same step."""
    into = time.time() % 30
    if into > 28:
        time.sleep(30.05 - into)


def forget_last_step(user_id: int) -> None:
    StaffUser.update(mfa_last_step=0).where(StaffUser.id == user_id).execute()


def cookie(browser: FlaskClient, name: str = "hearth_staff") -> str:
    value = browser.get_cookie(name)
    assert value is not None
    return value.value


# -- the code step ------------------------------------------------------------------------

def test_password_then_code_signs_in_with_a_new_session_id(staff_app: Flask) -> None:
    """Does the right password lead to the code page (not signed in yet), and the right code
    sign in on a new session id, with one `login` audit entry?"""
    user = make_staff("jchen", ["clinician"])
    browser = staff_app.test_client()
    steady_step()
    first = password_step(browser, "jchen")
    assert first.status_code == 302 and first.headers["Location"] == "/login/code"
    half = cookie(browser)
    assert WebSession.get(WebSession.token_hash == token_hash(half)).principal_id is None
    assert browser.get("/clients/").status_code == 302  # not signed in by the password alone
    assert not audit_entries(action="login")
    page = browser.get("/login/code")
    assert page.status_code == 200 and 'name="code"' in page.text
    done = code_step(browser, totp_code())
    assert done.status_code == 302 and done.headers["Location"] == "/clients/"
    signed = cookie(browser)
    assert signed != half
    assert WebSession.get_or_none(WebSession.token_hash == token_hash(half)) is None
    assert WebSession.get(WebSession.token_hash == token_hash(signed)).principal_id == user.id
    [entry] = audit_entries(action="login")
    assert (entry.actor_id, entry.object_id, entry.outcome) == (user.id, user.id, "success")


def test_a_code_is_never_accepted_twice(staff_app: Flask) -> None:
    """Is a code refused the second time: by the same browser later, and by a second browser
    racing with the same code?"""
    user = make_staff("jchen", ["clinician"])
    steady_step()
    code = totp_code()
    first, second = staff_app.test_client(), staff_app.test_client()
    assert password_step(first, "jchen").status_code == 302
    assert password_step(second, "jchen").status_code == 302
    assert code_step(first, code).status_code == 302
    replay = code_step(second, code)
    assert replay.status_code == 401
    assert CODE_REFUSED in text_of(replay)
    assert second.get("/clients/").status_code == 302
    # The same browser, signed out and back in with the same code: refused too.
    first.post("/logout", data={"csrf_token": page_token(first, "/account")})
    assert password_step(first, "jchen").status_code == 302
    assert code_step(first, code).status_code == 401
    assert StaffUser.get_by_id(user.id).failed_sign_ins == 2
    assert [e.outcome for e in audit_entries(action="mfa")] == ["failure", "failure"]


@pytest.mark.parametrize(("steps", "accepted"), [(-1, True), (1, True), (-2, False),
                                                  (2, False)])
def test_one_step_either_side_is_accepted_two_are_not(staff_app: Flask, steps: int,
                                                      accepted: bool) -> None:
    """Is a code from the step before or after now accepted (clock drift), and one two steps
    away refused?"""
    make_staff("jchen", ["clinician"])
    browser = staff_app.test_client()
    steady_step()
    assert password_step(browser, "jchen").status_code == 302
    response = code_step(browser, totp_code(steps=steps))
    assert response.status_code == (302 if accepted else 401)


def test_wrong_codes_count_toward_the_lockout(staff_app: Flask) -> None:
    """Do wrong codes add to the same count as wrong passwords, so five of each lock the
    account, and does the right password then not even reach the code page?"""
    user = make_staff("jchen", ["clinician"])
    browser = staff_app.test_client()
    for _ in range(5):
        assert login(browser, "jchen", "not the password").status_code == 401
    assert password_step(browser, "jchen").status_code == 302
    for attempt in range(4):
        response = code_step(browser, "000000")
        assert response.status_code == 401, attempt
        assert CODE_REFUSED in text_of(response)
    # A right password in between does not reset the count while a code is owed.
    assert StaffUser.get_by_id(user.id).failed_sign_ins == 9
    last = code_step(browser, "000000")
    assert last.status_code == 302 and last.headers["Location"] == "/login"
    assert REFUSED in text_of(browser.get("/login"))
    locked = StaffUser.get_by_id(user.id)
    assert locked.failed_sign_ins == 10 and locked.locked_until is not None
    assert [e.object_id for e in audit_entries(action="lockout")] == [user.id]
    assert len([e for e in audit_entries(action="mfa") if e.outcome == "failure"]) == 5
    # Locked: the right password and code get the same refusal as anything else.
    other = staff_app.test_client()
    assert login(other, "jchen").status_code == 401
    assert other.get("/clients/").status_code == 302


def test_the_code_page_needs_the_password_first_and_expires(staff_app: Flask) -> None:
    """Without a password step the code page sends you to sign in; and a code typed more
    than five minutes after the password is refused and starts over."""
    make_staff("jchen", ["clinician"])
    browser = staff_app.test_client()
    response = browser.get("/login/code")
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert password_step(browser, "jchen").status_code == 302
    token = csrf_token(browser, "/login/code")
    row = WebSession.get(WebSession.token_hash == token_hash(cookie(browser)))
    data = json.loads(row.data)
    data["mfa_pending"]["since"] -= 301
    WebSession.update(data=json.dumps(data)).where(
        WebSession.token_hash == row.token_hash).execute()
    late = browser.post("/login/code", data={"csrf_token": token, "code": totp_code()})
    assert late.status_code == 302 and late.headers["Location"] == "/login"
    assert START_AGAIN in text_of(browser.get("/login"))
    assert browser.get("/clients/").status_code == 302


def test_next_survives_the_code_step(staff_app: Flask) -> None:
    """Does the page someone was going to open (on this site only) come after the code?"""
    make_staff("jchen", ["clinician"])
    for target, landing in (("/account", "/account"), ("//evil.example", "/clients/")):
        browser = staff_app.test_client()
        forget_last_step(StaffUser.get(StaffUser.username == "jchen").id)
        steady_step()
        assert password_step(browser, "jchen", next_path=target).status_code == 302
        assert code_step(browser, totp_code()).headers["Location"] == landing


def test_a_recovery_code_works_once(staff_app: Flask) -> None:
    """Does a recovery code stand in for the app's code exactly once, with an audit entry?"""
    user = make_staff("jchen", ["clinician"])
    with db.connection_context():
        codes = mfa.new_recovery_codes("staff", user.id)
    browser = staff_app.test_client()
    assert password_step(browser, "jchen").status_code == 302
    used = code_step(browser, codes[3].lower())  # typed in lower case: still fine
    assert used.status_code == 302 and used.headers["Location"] == "/clients/"
    assert "recovery code; 9 left" in text_of(browser.get("/account"))
    assert [e.outcome for e in audit_entries(action="mfa")] == ["recovery_code_used"]
    again = staff_app.test_client()
    assert password_step(again, "jchen").status_code == 302
    assert code_step(again, codes[3]).status_code == 401
    assert mfa.recovery_codes_left("staff", user.id) == 9


def test_portal_accounts_with_totp_get_the_code_step(portal_app: Flask) -> None:
    """Does a client who turned TOTP on get the same second step in the portal, and one
    without it sign in with the password alone?"""
    with_totp = add_portal_account(add_client(), "ana@mail.example")
    ClientAccount.update(mfa_secret=TOTP_SECRET).where(
        ClientAccount.id == with_totp.id).execute()
    browser = portal_app.test_client()
    steady_step()
    assert password_step(browser, "ana@mail.example").headers["Location"] == "/login/code"
    assert code_step(browser, "123456" if totp_code() != "123456" else "654321"
                     ).status_code == 401
    assert code_step(browser, totp_code()).status_code == 302
    assert browser.get("/").status_code == 200
    add_portal_account(add_client("Bo", "Lee"), "bo@mail.example")
    plain = portal_app.test_client()
    assert password_step(plain, "bo@mail.example").headers["Location"] == "/"


# -- required enrolment -------------------------------------------------------------------

def test_a_required_user_without_totp_is_held_on_the_enrolment_page(staff_app: Flask) -> None:
    """Can a clinician who has not enrolled (MFA required by default) do anything but enrol
    or sign out after the password?"""
    make_staff("jchen", ["clinician"], mfa=False)
    browser = staff_app.test_client()
    assert login(browser, "jchen").status_code == 302
    for path in ("/clients/", "/clients/new", "/account", "/"):
        response = browser.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"] == "/account/mfa", path
    posted = post_form(browser, "/clients/new", {"legal_first_name": "X"},
                       token_from="/account/mfa")
    assert posted.status_code == 302 and posted.headers["Location"] == "/account/mfa"
    page = browser.get("/account/mfa")
    assert page.status_code == 200
    assert "<svg" in page.text and 'name="code"' in page.text
    keepalive = browser.post("/session/keepalive",
                             headers={"X-CSRFToken": page_token(browser, "/account/mfa")})
    assert keepalive.status_code == 200
    out = browser.post("/logout", data={"csrf_token": page_token(browser, "/account/mfa")})
    assert out.status_code == 302 and out.headers["Location"] == "/login"


def test_where_the_practice_relaxes_mfa_the_role_is_not_held(staff_app: Flask) -> None:
    """With MFA optional for billers, does a biller without TOTP work normally, while an
    admin (always required) is still held?"""
    with db.connection_context():
        practice_settings.change("mfa_optional_roles", "biller", actor_id=None)
    make_staff("bpatel", ["biller"], full_name="Bina Patel", mfa=False)
    make_staff("root", ["admin"], full_name="Ada Admin", mfa=False)
    biller, admin = staff_app.test_client(), staff_app.test_client()
    assert login(biller, "bpatel").status_code == 302
    assert biller.get("/clients/").status_code == 200
    assert login(admin, "root").status_code == 302
    assert admin.get("/clients/").headers["Location"] == "/account/mfa"


# -- enrolment ----------------------------------------------------------------------------

def pending_secret(browser: FlaskClient) -> str:
    page = browser.get("/account/mfa")
    match = re.search(r'id="mfa-secret">([A-Z2-7 ]+)</code>', page.text)
    assert match, page.text
    return match.group(1).replace(" ", "")


def test_enrolment_with_a_wrong_code_changes_nothing_then_a_right_one_enrols(
        staff_app: Flask) -> None:
    """Does a wrong confirmation code leave the account as it was (no secret, no recovery
    codes), and the right one turn TOTP on, show ten recovery codes once and free the user?"""
    user = make_staff("jchen", ["clinician"], mfa=False)
    browser = staff_app.test_client()
    assert login(browser, "jchen").status_code == 302
    secret = pending_secret(browser)
    assert len(secret) == 32 and pending_secret(browser) == secret  # kept until confirmed
    token = page_token(browser, "/account/mfa")
    wrong = browser.post("/account/mfa", data={"csrf_token": token, "code": "000000"})
    assert wrong.status_code == 400
    assert "That code does not match" in text_of(wrong)
    fresh = StaffUser.get_by_id(user.id)
    assert (fresh.mfa_secret, fresh.mfa_enrolled_at, fresh.mfa_last_step) == ("", None, 0)
    assert not RecoveryCode.select().exists()
    assert browser.get("/clients/").headers["Location"] == "/account/mfa"

    steady_step()
    right = browser.post("/account/mfa", data={"csrf_token": token,
                                               "code": pyotp.TOTP(secret).now()})
    assert right.status_code == 200
    codes = re.findall(r"<li><code>([A-Z2-9-]{19})</code></li>", right.text)
    assert len(codes) == 10
    enrolled = StaffUser.get_by_id(user.id)
    assert enrolled.mfa_secret == secret and enrolled.mfa_enrolled_at is not None
    assert mfa.recovery_codes_left("staff", user.id) == 10
    assert browser.get("/clients/").status_code == 200
    # Shown once: the page now manages MFA and shows no codes.
    manage = browser.get("/account/mfa")
    assert manage.status_code == 200 and not any(code in manage.text for code in codes)
    assert [e.outcome for e in audit_entries(action="mfa")] == [
        "enrolment_failure", "enrolled"]  # the first codes are part of enrolling
    # And the next sign-in asks for the new app's code.
    browser.post("/logout", data={"csrf_token": page_token(browser, "/account")})
    again = staff_app.test_client()
    assert password_step(again, "jchen").headers["Location"] == "/login/code"


def test_an_enrolled_user_cannot_enrol_over_their_app(staff_app: Flask) -> None:
    """Can a signed-in (or borrowed) session swap the authenticator app by posting a new
    enrolment without re-authenticating?"""
    user = make_staff("jchen", ["clinician"])
    browser = staff_app.test_client()
    assert login(browser, "jchen").status_code == 302
    other = pyotp.random_base32()
    with browser.session_transaction() as session:
        session["mfa_new_secret"] = other
    response = browser.post("/account/mfa", data={"csrf_token": page_token(browser, "/account"),
                                                  "code": pyotp.TOTP(other).now()})
    assert response.status_code == 200 and "Move to a new phone or app" in response.text
    assert StaffUser.get_by_id(user.id).mfa_secret == TOTP_SECRET


# -- re-authentication before changes -----------------------------------------------------

def reauth(browser: FlaskClient, path: str, password: str, code: str = "") -> Any:
    return browser.post(path, data={"csrf_token": page_token(browser, "/account/mfa"),
                                    "password": password, "code": code})


def test_resetting_mfa_needs_the_password_and_a_code(staff_app: Flask) -> None:
    """Is a reset refused without a code, with a wrong password or with a used code (each
    counted as a failure), and done with both, leaving the user held until they re-enrol?"""
    user = make_staff("jchen", ["clinician"])
    browser = staff_app.test_client()
    assert login(browser, "jchen").status_code == 302
    forget_last_step(user.id)
    steady_step()
    no_code = reauth(browser, "/account/mfa/reset", PASSWORD)
    assert no_code.status_code == 400 and "Enter the code" in text_of(no_code)
    wrong_password = reauth(browser, "/account/mfa/reset", "not it", totp_code())
    assert wrong_password.status_code == 400
    assert "That is not your current password." in text_of(wrong_password)
    assert StaffUser.get_by_id(user.id).mfa_secret == TOTP_SECRET
    assert StaffUser.get_by_id(user.id).failed_sign_ins == 2
    assert [e.outcome for e in audit_entries(action="reauth")] == ["failure", "failure"]

    done = reauth(browser, "/account/mfa/reset", PASSWORD, totp_code())
    assert done.status_code == 302 and done.headers["Location"] == "/account/mfa"
    reset = StaffUser.get_by_id(user.id)
    assert (reset.mfa_secret, reset.failed_sign_ins) == ("", 0)
    assert browser.get("/clients/").headers["Location"] == "/account/mfa"
    assert audit_entries(action="mfa")[-1].outcome == "reset"


def test_new_recovery_codes_need_re_authentication(staff_app: Flask) -> None:
    """Are new recovery codes refused with a reused code and issued (replacing the old ones)
    with the password and a fresh code?"""
    user = make_staff("jchen", ["clinician"])
    with db.connection_context():
        old = mfa.new_recovery_codes("staff", user.id)
    browser = staff_app.test_client()
    steady_step()
    assert login(browser, "jchen").status_code == 302
    used = reauth(browser, "/account/mfa/recovery-codes", PASSWORD, totp_code())
    assert used.status_code == 400  # the sign-in just used this step's code
    forget_last_step(user.id)
    made = reauth(browser, "/account/mfa/recovery-codes", PASSWORD, totp_code())
    assert made.status_code == 200
    new = re.findall(r"<li><code>([A-Z2-9-]{19})</code></li>", made.text)
    assert len(new) == 10 and not set(new) & set(old)
    assert not mfa.use_recovery_code("staff", user.id, old[0])
    assert mfa.use_recovery_code("staff", user.id, new[0])
