"""Automatic sign-off: the practice's idle timeout, the absolute limit, the page's clock
(data attributes and script), the keepalive and the status check."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from appliance.storage import db
from tests.conftest import login, make_staff
from tests.integration.web.conftest import page_token, text_of
from webapp.core import practice_settings
from webapp.core.models import WebSession
from webapp.core.sessions import ABSOLUTE_TIMEOUT, purge_expired, token_hash
from webapp.core.timeutil import utcnow


@pytest.fixture
def browser(staff_app: Flask) -> FlaskClient:
    make_staff("jchen", ["clinician"])
    client = staff_app.test_client()
    assert login(client, "jchen").status_code == 302
    return client


def set_idle_minutes(minutes: int) -> None:
    with db.connection_context():
        practice_settings.change("idle_timeout_minutes", str(minutes), actor_id=None)


def row_of(client: FlaskClient) -> WebSession:
    cookie = client.get_cookie("hearth_staff")
    assert cookie is not None
    return WebSession.get(WebSession.token_hash == token_hash(cookie.value))


def age(client: FlaskClient, **ago: timedelta) -> str:
    """Move the session's clocks into the past; returns its token hash."""
    row = row_of(client)
    WebSession.update({name: utcnow() - delta for name, delta in ago.items()}).where(
        WebSession.token_hash == row.token_hash).execute()
    return str(row.token_hash)


def signed_out(response: Any) -> bool:
    return response.status_code == 302 and response.headers["Location"].startswith("/login")


def body_clock(response: Any) -> tuple[int, int]:
    match = re.search(r'<body[^>]* data-idle-seconds="(\d+)" data-session-seconds-left="(\d+)"',
                      response.get_data(as_text=True))
    assert match, "no session clock on the page"
    return int(match.group(1)), int(match.group(2))


def keepalive(client: FlaskClient, token: str | None = None) -> Any:
    headers = {"X-CSRFToken": token} if token is not None else {}
    return client.post("/session/keepalive", headers=headers)


def meta_token(client: FlaskClient, path: str = "/account") -> str:
    match = re.search(r'<meta name="csrf-token" content="([^"]+)">', client.get(path).text)
    assert match
    return match.group(1)


# -- the server's clocks ------------------------------------------------------------------

def test_the_idle_timeout_is_the_practice_setting(browser: FlaskClient) -> None:
    """With the practice's idle time set to 5 minutes, is a session idle for 4 minutes kept
    and one idle for just over 5 signed out (and its row deleted)?"""
    set_idle_minutes(5)
    age(browser, last_seen_at=timedelta(minutes=4))
    assert browser.get("/clients/").status_code == 200
    token = age(browser, last_seen_at=timedelta(minutes=5, seconds=2))
    assert signed_out(browser.get("/clients/"))
    assert WebSession.get_or_none(WebSession.token_hash == token) is None


def test_a_longer_practice_setting_keeps_a_session_the_default_would_end(
        browser: FlaskClient) -> None:
    """With 30 idle minutes allowed, does a session idle for 20 stay signed in, and does the
    worker's purge leave it alone too?"""
    set_idle_minutes(30)
    token = age(browser, last_seen_at=timedelta(minutes=20))
    assert purge_expired() == 0
    assert WebSession.get_or_none(WebSession.token_hash == token) is not None
    assert browser.get("/clients/").status_code == 200


def test_the_absolute_timeout_ends_even_a_busy_session(browser: FlaskClient) -> None:
    """Is a session created 12 hours ago signed out however recently it was used?"""
    token = age(browser, created_at=ABSOLUTE_TIMEOUT + timedelta(seconds=5),
                last_seen_at=timedelta(seconds=5))
    assert signed_out(browser.get("/clients/"))
    assert WebSession.get_or_none(WebSession.token_hash == token) is None


# -- the page's clock ---------------------------------------------------------------------

def test_every_staff_page_carries_the_idle_length_and_the_script(browser: FlaskClient) -> None:
    """Do signed-in pages carry the practice's idle length, the time the server will really
    wait, the CSRF meta tag, the warning dialog and the script (served from the box)?"""
    set_idle_minutes(7)
    for path in ("/clients/", "/account", "/account/mfa"):
        page = browser.get(path)
        assert page.status_code == 200, path
        idle, left = body_clock(page)
        assert idle == 7 * 60
        assert 7 * 60 - 5 <= left <= 7 * 60
        html = page.get_data(as_text=True)
        assert '<script src="/static/session-timeout.js" defer></script>' in html
        assert '<meta name="csrf-token" content="' in html
        assert 'id="session-warning"' in html and "Stay signed in" in html
        assert 'data-session-keepalive-url="/session/keepalive"' in html
    script = browser.get("/static/session-timeout.js")
    assert script.status_code == 200 and "X-CSRFToken" in script.get_data(as_text=True)
    script.close()


def test_the_sign_in_page_has_no_session_clock(staff_client: FlaskClient) -> None:
    """Is the warning script left off pages for people who are not signed in?"""
    page = staff_client.get("/login")
    assert "session-timeout.js" not in page.text and "data-idle-seconds" not in page.text


def test_the_page_is_told_the_time_the_server_will_wait(browser: FlaskClient) -> None:
    """When the server's idle clock was last written 40 s ago (it is written at most once a
    minute), does the page count from then, not from its own load?"""
    set_idle_minutes(10)
    browser.get("/account")  # the first page stores the CSRF token: a write that resets
    age(browser, last_seen_at=timedelta(seconds=40))
    _, left = body_clock(browser.get("/account"))
    assert 10 * 60 - 45 <= left <= 10 * 60 - 38
    # Past the minute, the request itself refreshes the clock: the page gets it all.
    age(browser, last_seen_at=timedelta(seconds=90))
    _, left = body_clock(browser.get("/account"))
    assert left >= 10 * 60 - 3


def test_the_status_check_reads_the_clock_without_resetting_it(browser: FlaskClient) -> None:
    """Does GET /session/status report what is left and leave last_seen alone, so the
    page's own checks never keep an idle session alive?"""
    set_idle_minutes(10)
    age(browser, last_seen_at=timedelta(minutes=3))
    before = row_of(browser).last_seen_at
    status = browser.get("/session/status")
    assert status.status_code == 200
    assert 7 * 60 - 5 <= status.get_json()["seconds_left"] <= 7 * 60
    assert row_of(browser).last_seen_at == before
    age(browser, last_seen_at=timedelta(minutes=11))
    assert signed_out(browser.get("/session/status"))


# -- keepalive ----------------------------------------------------------------------------

def test_keepalive_extends_the_session(browser: FlaskClient) -> None:
    """Does "Stay signed in" restart the idle clock (even within the once-a-minute window)
    and answer the full idle length, so a session about to end goes on?"""
    set_idle_minutes(5)
    token = meta_token(browser)
    age(browser, last_seen_at=timedelta(minutes=4, seconds=30))
    response = keepalive(browser, token)
    assert response.status_code == 200
    assert response.get_json()["seconds_left"] >= 5 * 60 - 2
    assert utcnow() - row_of(browser).last_seen_at < timedelta(seconds=5)
    age(browser, last_seen_at=timedelta(seconds=20))  # inside the 60 s touch window
    assert keepalive(browser, token).status_code == 200
    assert utcnow() - row_of(browser).last_seen_at < timedelta(seconds=5)
    # 4.5 minutes after the first keepalive's moment would have been past 5 idle minutes
    # without it; the session is alive.
    assert browser.get("/clients/").status_code == 200


def test_keepalive_needs_csrf_and_a_live_session(browser: FlaskClient,
                                                  staff_client: FlaskClient) -> None:
    """Is a keepalive without the CSRF header refused (and not extending anything), and one
    from a signed-out browser or after the timeout refused too?"""
    set_idle_minutes(5)
    token = meta_token(browser)
    age(browser, last_seen_at=timedelta(seconds=30))  # inside the once-a-minute window
    before = row_of(browser).last_seen_at
    assert keepalive(browser).status_code == 400
    assert row_of(browser).last_seen_at == before
    assert keepalive(staff_client, "made-up").status_code in (400, 401)
    age(browser, last_seen_at=timedelta(minutes=6))
    assert keepalive(browser, token).status_code in (400, 401)
    assert signed_out(browser.get("/clients/"))


def test_the_idle_sign_out_lands_on_a_clear_sign_in_page(browser: FlaskClient) -> None:
    """Where the script sends the browser when time is up: does it say why?"""
    page = browser.get("/clients/").get_data(as_text=True)
    login_url = re.search(r'data-login-url="([^"]+)"', page)
    assert login_url
    age(browser, last_seen_at=timedelta(hours=1))
    assert "signed out after a period of inactivity" in text_of(
        browser.get(login_url.group(1).replace("&amp;", "&")))
    assert page_token(browser, "/login")
