"""Headers, cookies, CSRF, error pages, sign-in and sign-out, sessions and their audit trail."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from appliance.config import Settings
from tests.conftest import PASSWORD, csrf_token, login, make_staff
from tests.integration.web.conftest import (
    FULL_CLIENT_FORM,
    add_caseload_client,
    add_client,
    audit_entries,
    client_count,
    page_token,
    signed_in,
    text_of,
)
from webapp import create_portal_app, create_staff_app
from webapp.audit.models import AuditEntry
from webapp.clients.models import Client
from webapp.core.models import StaffUser, WebSession
from webapp.core.permissions import SIGNED_IN, requires
from webapp.core.sessions import ABSOLUTE_TIMEOUT, IDLE_TIMEOUT, token_hash
from webapp.core.timeutil import utcnow
from webapp.core.views import FAILED_MESSAGE

HEADERS_ON_EVERY_RESPONSE = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def assert_security_headers(response: Any, page: bool = True) -> None:
    csp = response.headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    assert "frame-ancestors 'none'" in csp
    assert "default-src 'self'" in csp
    for name, value in HEADERS_ON_EVERY_RESPONSE.items():
        assert response.headers[name] == value, name
    if page:
        assert response.headers["Cache-Control"] == "no-store"


def session_cookie(browser: FlaskClient, name: str = "hearth_staff") -> str:
    cookie = browser.get_cookie(name)
    assert cookie is not None, f"no {name} cookie"
    return cookie.value


def set_cookie_headers(response: Any) -> list[str]:
    return response.headers.getlist("Set-Cookie")


# -- headers ------------------------------------------------------------------

def test_pages_carry_the_security_headers(clinician_client: FlaskClient) -> None:
    """Do signed-in pages send a strict CSP, no-referrer, nosniff and no-store?"""
    client = add_caseload_client("Odile", "Fenwick")
    for path in ("/clients/", f"/clients/{client.id}", "/clients/new"):
        response = clinician_client.get(path)
        assert response.status_code == 200, path
        assert_security_headers(response)
        assert response.headers["Pragma"] == "no-cache"
        assert "Strict-Transport-Security" not in response.headers  # plain HTTP in tests


@pytest.mark.parametrize("which", ["staff", "portal"])
def test_login_and_error_pages_carry_the_security_headers(staff_app: Flask, portal_app: Flask,
                                                          which: str) -> None:
    """Do the sign-in page, a 404, a 405 and a refused form send the same headers?"""
    browser = (staff_app if which == "staff" else portal_app).test_client()
    assert_security_headers(browser.get("/login"))
    missing = browser.get("/no-such-page")
    assert missing.status_code == 404
    assert_security_headers(missing)
    assert browser.get("/logout").status_code == 405
    assert_security_headers(browser.get("/logout"))
    refused = browser.post("/login", data={"username": "x", "password": "y"})
    assert refused.status_code == 400
    assert_security_headers(refused)


def test_static_files_get_the_headers_but_may_be_cached(staff_client: FlaskClient) -> None:
    """Are stylesheets served with nosniff but without the no-store that pages need?"""
    response = staff_client.get("/static/hearth.css")
    assert response.status_code == 200
    assert_security_headers(response, page=False)
    assert response.headers.get("Cache-Control") != "no-store"
    response.close()


# -- cookies ------------------------------------------------------------------

@pytest.mark.parametrize("which", ["staff", "portal"])
def test_session_cookie_is_httponly_and_samesite_lax(staff_app: Flask, portal_app: Flask,
                                                     which: str) -> None:
    """Is the session cookie out of JavaScript's reach and not sent on cross-site posts?"""
    browser = (staff_app if which == "staff" else portal_app).test_client()
    cookies = set_cookie_headers(browser.get("/login"))
    assert len(cookies) == 1
    assert cookies[0].startswith(f"hearth_{which}=")
    attributes = {part.strip().lower() for part in cookies[0].split(";")[1:]}
    assert {"httponly", "samesite=lax", "path=/"} <= attributes
    assert "secure" not in attributes  # plain HTTP: a Secure cookie would never come back


HTTPS = "https://localhost"


@pytest.fixture
def tls_settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, behind_tls=True)


@pytest.mark.parametrize("which", ["staff", "portal"])
def test_behind_tls_cookies_are_secure_host_cookies_and_hsts_is_sent(tls_settings: Settings,
                                                                     which: str) -> None:
    """Behind TLS, is the cookie Secure and __Host- prefixed, and is HSTS sent?"""
    app = (create_staff_app if which == "staff" else create_portal_app)(tls_settings)
    browser = app.test_client()
    response = browser.get("/login", base_url=HTTPS)
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    assert int(response.headers["Strict-Transport-Security"].split("=")[1].split(";")[0]) \
        >= 31536000
    cookies = set_cookie_headers(response)
    assert len(cookies) == 1
    assert cookies[0].startswith(f"__Host-hearth_{which}=")
    attributes = {part.strip().lower() for part in cookies[0].split(";")[1:]}
    assert {"secure", "httponly", "samesite=lax", "path=/"} <= attributes
    assert not any(a.startswith("domain=") for a in attributes)  # required for __Host-
    assert browser.get("/healthz", base_url=HTTPS).headers["Strict-Transport-Security"]


def test_behind_tls_sign_in_works_and_the_new_cookie_keeps_its_flags(
        tls_settings: Settings) -> None:
    """Can a clinician sign in over HTTPS, and does the post-sign-in cookie stay Secure?"""
    app = create_staff_app(tls_settings)
    make_staff("jchen", ["clinician"])
    browser = app.test_client()
    response = login(browser, "jchen", base_url=HTTPS, headers={"Referer": f"{HTTPS}/login"})
    assert response.status_code == 302
    cookie = set_cookie_headers(response)[0]
    assert cookie.startswith("__Host-hearth_staff=") and "Secure" in cookie
    assert browser.get("/clients/", base_url=HTTPS).status_code == 200


# -- CSRF ---------------------------------------------------------------------

def test_a_post_without_csrf_token_is_refused_and_changes_nothing(
        clinician_client: FlaskClient) -> None:
    """Does a signed-in form POST without its CSRF token get 400 and leave the data alone?"""
    client = add_client("Odile", "Fenwick")
    before = client_count()
    response = clinician_client.post("/clients/new", data=FULL_CLIENT_FORM)
    assert response.status_code == 400
    assert "This form has expired" in response.get_data(as_text=True)
    assert client_count() == before

    response = clinician_client.post(f"/clients/{client.id}/discharge",
                                     data={"discharged_on": "2026-01-02", "reason": "moved"})
    assert response.status_code == 400
    assert Client.get_by_id(client.id).status == "active"
    assert not audit_entries(action="discharge")


def test_a_csrf_token_from_another_session_is_refused(staff_app: Flask,
                                                      clinician_client: FlaskClient) -> None:
    """Is a CSRF token taken from another browser's session useless in this one?"""
    other = signed_in(staff_app, "mdiaz", ["clinician"], "Mateo Diaz")
    foreign_token = page_token(other, "/clients/")
    before = client_count()
    response = clinician_client.post("/clients/new",
                                     data={**FULL_CLIENT_FORM, "csrf_token": foreign_token})
    assert response.status_code == 400
    assert client_count() == before


# -- error pages --------------------------------------------------------------

def test_a_404_shows_no_record(clinician_client: FlaskClient) -> None:
    """Does a missing client or page answer a plain 404 page?"""
    add_client("Odile", "Fenwick")
    for path in ("/clients/999", "/no/such/page"):
        response = clinician_client.get(path)
        assert response.status_code == 404
        body = response.get_data(as_text=True)
        assert "There is no page at this address." in body
        assert "Odile" not in body and "Fenwick" not in body


def test_a_500_shows_no_phi_and_no_traceback(staff_app: Flask,
                                             caplog: pytest.LogCaptureFixture) -> None:
    """When a view crashes with a client's name in the exception, does the error page (and
    the log) stay free of the name and of the traceback?"""
    client = add_client("Philippa", "Tremaine", email="philippa@mail.example")

    @staff_app.get("/crash")
    @requires(SIGNED_IN)
    def crash() -> str:
        raise RuntimeError(f"cannot bill {client.legal_name} <{client.email}>")

    browser = signed_in(staff_app, "jchen", ["clinician"], "Julia Chen")
    with caplog.at_level(logging.DEBUG):
        response = browser.get("/crash")
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert "Something went wrong" in body
    for leak in ("Philippa", "Tremaine", "philippa@", "Traceback", "RuntimeError", "cannot bill",
                 'File "'):
        assert leak not in body, leak
        assert leak.lower() not in caplog.text.lower() or leak == "RuntimeError", leak
    # The log says where it broke, and the page gives the reference to find that line.
    reference = re.search(r"<code>([0-9a-f]{16})</code>", body)
    assert reference and f"(request {reference.group(1)})" in caplog.text
    assert "test_security.py:" in caplog.text
    assert_security_headers(response)


# -- signing in ---------------------------------------------------------------

def test_signing_in_issues_a_new_session_id(staff_client: FlaskClient) -> None:
    """Is the pre-sign-in session token replaced (and its row gone) when the user signs in?"""
    make_staff("jchen", ["clinician"], mfa=False)  # the code step: test_mfa.py
    token = csrf_token(staff_client)
    before = session_cookie(staff_client)
    response = staff_client.post("/login", data={"csrf_token": token, "username": "jchen",
                                                 "password": PASSWORD})
    assert response.status_code == 302
    after = session_cookie(staff_client)
    assert after != before
    assert WebSession.get_or_none(WebSession.token_hash == token_hash(before)) is None
    row = WebSession.get(WebSession.token_hash == token_hash(after))
    assert row.principal_id == StaffUser.get(StaffUser.username == "jchen").id

    # The old token, replayed by someone who planted it, is not signed in.
    planted = staff_client.application.test_client()
    planted.set_cookie("hearth_staff", before)
    assert planted.get("/clients/").status_code == 302


def _comparable(response: Any, username: str) -> str:
    body = response.get_data(as_text=True)
    body = re.sub(r'value="[^"]*"', 'value=""', body)
    return body.replace(username, "USERNAME")


def test_wrong_password_and_unknown_user_look_the_same(staff_client: FlaskClient) -> None:
    """Can a visitor tell 'no such user' from 'wrong password' by message or status?"""
    make_staff("jchen", ["clinician"])
    wrong = login(staff_client, "jchen", "not the password")
    unknown = login(staff_client, "nobody", PASSWORD)
    assert wrong.status_code == unknown.status_code == 401
    assert FAILED_MESSAGE in text_of(wrong)
    assert FAILED_MESSAGE in text_of(unknown)
    assert _comparable(wrong, "jchen") == _comparable(unknown, "nobody")
    assert session_cookie(staff_client)  # still an anonymous session
    assert staff_client.get("/clients/").status_code == 302


def test_an_inactive_account_cannot_sign_in(staff_client: FlaskClient) -> None:
    """Is a deactivated account refused with the same message as a wrong password?"""
    user = make_staff("jchen", ["clinician"])
    StaffUser.update(is_active=False).where(StaffUser.id == user.id).execute()
    response = login(staff_client, "jchen")
    assert response.status_code == 401
    assert FAILED_MESSAGE in text_of(response)
    assert staff_client.get("/clients/").status_code == 302
    assert not WebSession.select().where(WebSession.principal_id == user.id).exists()


def test_deactivating_an_account_ends_access_on_the_next_request(
        clinician_client: FlaskClient) -> None:
    """Once an account is made inactive, is its open session no longer signed in?"""
    assert clinician_client.get("/clients/").status_code == 200
    StaffUser.update(is_active=False).where(StaffUser.username == "jchen").execute()
    response = clinician_client.get("/clients/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


OFF_SITE = ["//evil.example", "https://evil.example", "https://evil.example/clients/",
            "/\\evil.example", "\\\\evil.example", "/\t/evil.example", "/\n/evil.example",
            "/\r\n/evil.example", " //evil.example", "http:evil.example", "javascript:alert(1)"]


def test_next_to_another_host_is_not_followed(staff_app: Flask) -> None:
    """After signing in, does a `next` pointing off-site (including tricks browsers undo,
    like a tab inside '//') send the user to the start page instead?"""
    make_staff("jchen", ["clinician"], mfa=False)
    for target in OFF_SITE:
        browser = staff_app.test_client()
        response = browser.post("/login", query_string={"next": target},
                                data={"csrf_token": csrf_token(browser), "username": "jchen",
                                      "password": PASSWORD})
        assert response.status_code == 302, repr(target)
        assert response.headers["Location"] == "/clients/", repr(target)


def test_next_on_this_site_is_followed(staff_client: FlaskClient) -> None:
    """Does a `next` that is a path on this site take the user back where they were going?"""
    make_staff("jchen", ["clinician"], mfa=False)
    refused = staff_client.get("/clients/?status=all")
    assert refused.status_code == 302
    login_page = refused.headers["Location"]
    assert login_page.startswith("/login?next=")
    token = csrf_token(staff_client, login_page)
    response = staff_client.post(login_page, data={"csrf_token": token, "username": "jchen",
                                                   "password": PASSWORD})
    assert response.headers["Location"] == "/clients/?status=all"


def test_a_signed_in_user_opening_the_sign_in_page_is_sent_home(
        clinician_client: FlaskClient) -> None:
    """Does a signed-in user who opens /login go to the start page instead of a second
    sign-in?"""
    response = clinician_client.get("/login")
    assert response.status_code == 302 and response.headers["Location"] == "/clients/"


def test_usernames_are_matched_regardless_of_case(staff_client: FlaskClient) -> None:
    """Can Julia sign in as 'JChen ' as well as 'jchen'?"""
    make_staff("jchen", ["clinician"])
    assert login(staff_client, " JChen ").status_code == 302


# -- signing out --------------------------------------------------------------

def test_logout_is_post_only(clinician_client: FlaskClient) -> None:
    """Can a link (GET) sign someone out, e.g. from an image tag on another site?"""
    response = clinician_client.get("/logout")
    assert response.status_code == 405
    assert clinician_client.get("/clients/").status_code == 200


def test_logout_ends_the_server_side_session(clinician_client: FlaskClient) -> None:
    """After signing out, is the session row gone so the old cookie opens nothing?"""
    old = session_cookie(clinician_client)
    token = page_token(clinician_client, "/clients/")
    response = clinician_client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert WebSession.get_or_none(WebSession.token_hash == token_hash(old)) is None
    user_id = StaffUser.get(StaffUser.username == "jchen").id
    assert not WebSession.select().where(WebSession.principal_id == user_id).exists()
    assert "You are signed out." in clinician_client.get("/login").get_data(as_text=True)

    replay = clinician_client.application.test_client()
    replay.set_cookie("hearth_staff", old)
    response = replay.get("/clients/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_the_session_table_holds_only_token_hashes(clinician_client: FlaskClient) -> None:
    """Could someone holding a copy of the database use a cookie stored in it?"""
    raw = session_cookie(clinician_client)
    rows = list(WebSession.select())
    assert rows
    for row in rows:
        for value in (row.token_hash, row.data, row.app):
            assert raw not in value
    assert any(row.token_hash == hashlib.sha256(raw.encode()).hexdigest() for row in rows)


def test_a_made_up_or_oversized_cookie_is_not_signed_in(staff_client: FlaskClient) -> None:
    """Does a guessed or absurdly long cookie value just start an anonymous session?"""
    make_staff("jchen", ["clinician"])
    for value in ("guess", "A" * 150):
        staff_client.set_cookie("hearth_staff", value)
        response = staff_client.get("/clients/")
        assert response.status_code == 302


# -- audit of sign-in and sign-out --------------------------------------------

def test_sign_in_events_are_audited_without_names(staff_client: FlaskClient) -> None:
    """Are login, login_failed and logout recorded with ids only, never names?"""
    user = make_staff("jchen", ["clinician"], full_name="Julia Chen")
    login(staff_client, "jchen", "wrong password")
    login(staff_client, "mallory", "whatever")
    assert login(staff_client, "jchen").status_code == 302
    staff_client.post("/logout", data={"csrf_token": page_token(staff_client, "/clients/")})

    entries = [e for e in audit_entries() if e.object_type not in ("staff_user", "client_list")]
    assert [e.action for e in entries] == ["login_failed", "login_failed", "login", "logout"]
    failed_known, failed_unknown, signed_in_entry, signed_out = entries
    assert (failed_known.actor_kind, failed_known.object_id, failed_known.outcome) == \
        ("anonymous", user.id, "failure")
    assert (failed_unknown.actor_kind, failed_unknown.object_id) == ("anonymous", None)
    for entry in (signed_in_entry, signed_out):
        assert (entry.actor_kind, entry.actor_id, entry.actor_role) == \
            ("staff", user.id, "clinician")
        assert (entry.object_type, entry.object_id, entry.outcome) == \
            ("staff_account", user.id, "success")
    for entry in entries:
        assert entry.source_address == "127.0.0.1"
        assert re.fullmatch(r"[0-9a-f]{16}", entry.request_id)
        text = " ".join(str(value) for value in entry.__data__.values()).lower()
        for name in ("jchen", "julia", "chen", "mallory"):
            assert name not in text
    # + the account's creation and the client list shown after sign-in
    assert AuditEntry.select().count() == len(entries) + 2


# -- automatic sign-off -------------------------------------------------------

@pytest.mark.parametrize(("field", "age"), [
    ("last_seen_at", IDLE_TIMEOUT + timedelta(minutes=1)),
    ("created_at", ABSOLUTE_TIMEOUT + timedelta(minutes=1)),
])
def test_idle_and_old_sessions_end(clinician_client: FlaskClient, field: str,
                                   age: timedelta) -> None:
    """Is a session left idle past the timeout, or older than the absolute limit, signed out
    and its row deleted?"""
    token = token_hash(session_cookie(clinician_client))
    WebSession.update({field: utcnow() - age}).where(WebSession.token_hash == token).execute()
    response = clinician_client.get("/clients/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert WebSession.get_or_none(WebSession.token_hash == token) is None


def test_an_oversized_post_is_refused(clinician_client: FlaskClient) -> None:
    """Is a form body over the size limit refused (413) before anything reads it?"""
    before = client_count()
    response = clinician_client.post("/clients/new", data={"legal_first_name": "x" * 3_000_000})
    assert response.status_code == 413
    assert_security_headers(response)
    assert client_count() == before
