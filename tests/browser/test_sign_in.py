"""Signing in as a person would, in headless Chromium: enrolling MFA from the QR page,
signing in with password and TOTP, and the idle-timeout warning.

The page's clock is Playwright's, so a test moves time on instead of waiting; the
server's idle clock is moved by ageing the session row, so both sides agree.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp
import pytest
from playwright.sync_api import Page, expect

from appliance.storage import db
from tests.conftest import PASSWORD, make_staff
from webapp.core import practice_settings
from webapp.core.models import StaffUser, WebSession
from webapp.core.timeutil import utcnow

pytestmark = pytest.mark.slow


def sign_in_with_password(page: Page, base: str, username: str) -> None:
    page.goto(base + "/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def age_signed_in_sessions(seconds: int) -> None:
    """Make the server's idle clock read `seconds` of inactivity."""
    with db.connection_context():
        WebSession.update(last_seen_at=utcnow() - timedelta(seconds=seconds)).where(
            WebSession.principal_id.is_null(False)).execute()


def test_enrol_from_the_qr_page_then_sign_in_with_password_and_totp(live_staff: str,
                                                                     page: Page) -> None:
    """A clinician without MFA signs in, is held on the enrolment page, enrols with the
    code their app would show, saves recovery codes, and next time signs in with a code."""
    make_staff("jchen", ["clinician"], mfa=False)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # A refused form answers 400, which Chromium logs as a failed load: not a script error.
    page.on("console", lambda message: errors.append(message.text)
            if message.type == "error" and "Failed to load resource" not in message.text
            else None)

    sign_in_with_password(page, live_staff, "jchen")
    expect(page).to_have_url(re.compile(r"/account/mfa$"))
    page.goto(live_staff + "/clients/")  # every other page sends them back to enrol
    expect(page).to_have_url(re.compile(r"/account/mfa$"))

    qr = page.locator("svg.segno")
    expect(qr).to_have_count(1)
    assert qr.bounding_box() is not None and qr.bounding_box()["width"] > 100  # type: ignore[index]
    secret = page.locator("#mfa-secret").inner_text().replace(" ", "")
    page.locator("input[name=code]").fill("000000" if pyotp.TOTP(
        secret).now() != "000000" else "111111")
    page.get_by_role("button", name=re.compile("Turn on", re.I)).click()
    expect(page.locator("#recovery-codes li")).to_have_count(0)  # a wrong code enrols nothing
    with db.connection_context():
        assert StaffUser.get(StaffUser.username == "jchen").mfa_secret == ""

    page.locator("input[name=code]").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name=re.compile("Turn on", re.I)).click()
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    page.get_by_text("I have saved these").click()
    expect(page).to_have_url(re.compile(r"/clients/"))
    with db.connection_context():
        assert StaffUser.get(StaffUser.username == "jchen").mfa_secret == secret

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login"))
    sign_in_with_password(page, live_staff, "jchen")
    expect(page).to_have_url(re.compile(r"/login/code"))
    # The enrolment code burned this time step; the app's next code is still inside ±1.
    next_code = pyotp.TOTP(secret).at(int(utcnow().timestamp()) + 30)
    page.locator("input[name=code]").fill(next_code)
    page.get_by_role("button", name=re.compile("Verify|Sign in|Continue", re.I)).click()
    expect(page).to_have_url(re.compile(r"/clients/"))
    assert errors == []


def test_the_idle_warning_offers_to_stay_signed_in_then_signs_out(live_staff: str,
                                                                  page: Page) -> None:
    """With a 2-minute idle limit: a minute before it the page warns; "Stay signed in"
    renews the session on the server; left alone, the page goes to sign-in."""
    make_staff("jchen", ["clinician"])
    with db.connection_context():
        practice_settings.change("idle_timeout_minutes", "2", actor_id=None)
    page.clock.install()
    sign_in_with_password(page, live_staff, "jchen")
    page.locator("input[name=code]").fill(pyotp.TOTP("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP").now())
    page.get_by_role("button", name=re.compile("Verify|Sign in|Continue", re.I)).click()
    expect(page).to_have_url(re.compile(r"/clients/"))
    warning = page.locator("#session-warning")
    expect(warning).to_be_hidden()

    age_signed_in_sessions(61)
    page.clock.fast_forward(61_000)
    expect(warning).to_be_visible()
    expect(warning).to_contain_text(re.compile(r"sign", re.I))

    page.locator("#session-stay").click()
    expect(warning).to_be_hidden()
    with db.connection_context():
        row = WebSession.get(WebSession.principal_id.is_null(False))
    assert utcnow() - row.last_seen_at < timedelta(seconds=10)  # renewed on the server

    age_signed_in_sessions(121)
    page.clock.fast_forward(121_000)
    expect(page).to_have_url(re.compile(r"/login\?idle=1"))
    expect(page.locator("body")).to_contain_text(re.compile("inactiv", re.I))
    page.goto(live_staff + "/clients/")
    expect(page).to_have_url(re.compile(r"/login"))
