"""Deny by default: every route of both apps needs a signed-in user and a permission."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from werkzeug.routing import Rule

from tests.conftest import PASSWORD, login
from tests.integration.web.conftest import (
    add_client,
    add_portal_account,
    page_token,
    signed_in,
)
from webapp.core.permissions import SIGNED_IN, public, requires

# The whole list of routes anyone may open without signing in.
# /login/code is the second sign-in step: it answers only a session whose password was right.
ALLOWLIST = {"/login", "/login/code", "/healthz", "/static/<path:filename>"}
# The staff app also opens a staff invitation link: its 256-bit token is the credential.
STAFF_ALLOWLIST = ALLOWLIST | {"/welcome/<token>"}


# The portal also opens enrolment from a portal invitation link: the link's 256-bit token,
# then the client's date of birth and an e-mailed code, are the credentials.
PORTAL_ALLOWLIST = ALLOWLIST | {"/enrol/<token>", "/enrol/birth-date", "/enrol/code",
                                "/enrol/account"}


def allowlist(app: Flask) -> set[str]:
    return STAFF_ALLOWLIST if app.name == "hearth_staff" else PORTAL_ALLOWLIST

# A name that must never show on a page served to someone who is not signed in.
SECRET_NAME = "Zebulon"
_ARGUMENT = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
_SAMPLE_BY_CONVERTER = {"int": 1, "uuid": "00000000-0000-0000-0000-000000000001"}


def sample_url(rule: Rule) -> str:
    """The rule's URL with int arguments 1 and every other argument "x"."""
    return _ARGUMENT.sub(
        lambda arg: str(_SAMPLE_BY_CONVERTER.get(arg.group(1) or "default", "x")), rule.rule)


def public_rules(app: Flask) -> set[str]:
    """Rules whose view is marked public (or is Flask's static files)."""
    return {rule.rule for rule in app.url_map.iter_rules()
            if rule.endpoint == "static"
            or getattr(app.view_functions[rule.endpoint], "_hearth_public", False)}


def assert_refused(app: Flask, rule: Rule, with_token: bool) -> None:
    """Every method of `rule` refuses a visitor; `with_token` sends a genuine CSRF token."""
    url = sample_url(rule)
    for method in sorted(rule.methods or ()):
        if with_token and method in SAFE_METHODS:
            continue  # a CSRF token only matters to methods that change things
        browser = app.test_client()
        data = {"csrf_token": page_token(browser, "/login")} if with_token else None
        response = browser.open(url, method=method, data=data)
        body = response.get_data(as_text=True)
        where = f"{method} {url} ({app.name})"
        assert not 200 <= response.status_code < 300, f"{where} answered {response.status_code}"
        assert SECRET_NAME not in body, f"{where} showed client data"
        if method == "GET":
            assert response.status_code == 302, where
            assert response.headers["Location"].startswith("/login?"), where
        elif with_token:
            assert response.status_code == 401, f"{where}: {response.status_code}"
        else:
            assert response.status_code in (400, 401, 403), f"{where}: {response.status_code}"


@pytest.fixture
def apps(staff_app: Flask, portal_app: Flask) -> list[Flask]:
    add_client(SECRET_NAME, "Quarles")  # so /clients/1 is a real record
    return [staff_app, portal_app]


def test_the_public_routes_are_exactly_the_allowlist(apps: list[Flask]) -> None:
    """Is any route open without signing in other than login, health check and static files?"""
    for app in apps:
        assert public_rules(app) == allowlist(app), app.name


def test_every_other_route_refuses_an_anonymous_request(apps: list[Flask]) -> None:
    """Does every route and method, apart from the allowlist, refuse a visitor who is not
    signed in (a redirect to sign in, or 400/401/403) without showing client data?"""
    checked = 0
    for app in apps:
        for rule in app.url_map.iter_rules():
            if rule.rule in allowlist(app):
                continue
            assert_refused(app, rule, with_token=False)
            checked += 1
    assert checked >= 10  # the walk really covered both apps' routes


def test_anonymous_writes_with_a_valid_csrf_token_are_still_refused(apps: list[Flask]) -> None:
    """With a genuine CSRF token (so CSRF is not what stops it), is every non-GET request of a
    visitor who is not signed in refused as unauthorised?"""
    for app in apps:
        for rule in app.url_map.iter_rules():
            if rule.rule not in allowlist(app):
                assert_refused(app, rule, with_token=True)


def test_the_allowlisted_routes_answer_without_signing_in(apps: list[Flask]) -> None:
    """Can a visitor open the sign-in page, the health check and a stylesheet?"""
    for app in apps:
        browser = app.test_client()
        assert browser.get("/login").status_code == 200
        assert browser.get("/healthz").status_code == 200
        static = browser.get("/static/hearth.css")
        assert static.status_code == 200
        static.close()


@pytest.mark.parametrize("which", ["staff", "portal"])
def test_healthz_says_ok(staff_app: Flask, portal_app: Flask, which: str) -> None:
    """Does /healthz answer {"status": "ok"} on both apps?"""
    app = staff_app if which == "staff" else portal_app
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_a_view_without_a_declared_permission_is_closed(staff_app: Flask) -> None:
    """Can a signed-in staff member open a view whose author forgot to declare a permission?"""

    @staff_app.get("/forgot-permission")
    def forgot_permission() -> str:
        return "should never be served"

    @staff_app.get("/declared")
    @requires(SIGNED_IN)
    def declared() -> str:
        return "served"

    admin = signed_in(staff_app, "root", ["admin", "clinician", "supervisor"], "Ada Admin")
    refused = admin.get("/forgot-permission")
    assert refused.status_code == 403
    assert "should never be served" not in refused.get_data(as_text=True)
    assert admin.get("/declared").get_data(as_text=True) == "served"  # the control


def test_a_public_mark_needs_to_be_explicit(staff_app: Flask) -> None:
    """Would a new public route show up as a change to the allowlist?"""

    @staff_app.get("/new-public-page")
    @public
    def new_public_page() -> str:
        return "open"

    assert public_rules(staff_app) == STAFF_ALLOWLIST | {"/new-public-page"}


def test_a_portal_cookie_does_not_open_the_staff_app(staff_app: Flask,
                                                     portal_app: Flask) -> None:
    """Does a signed-in portal session, presented to the staff app under either cookie name,
    get the visitor in? (Account ids overlap: staff user 1 and portal account 1.)"""
    signed_in(staff_app, "jchen", ["clinician"], "Julia Chen")  # staff user id 1
    client = add_client("Portia", "Lane")
    account = add_portal_account(client, "portia@mail.example")
    assert account.id == 1
    portal = portal_app.test_client()
    assert login(portal, "portia@mail.example", PASSWORD).status_code == 302
    portal_cookie = portal.get_cookie("hearth_portal")
    assert portal_cookie is not None
    assert portal.get("/").status_code == 200

    staff = staff_app.test_client()
    for name in ("hearth_portal", "hearth_staff"):
        staff.set_cookie(name, portal_cookie.value)
        response = staff.get("/clients/")
        assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_a_staff_cookie_does_not_open_the_portal(staff_app: Flask, portal_app: Flask) -> None:
    """Does a signed-in staff session, presented to the portal under either cookie name,
    get the visitor in?"""
    client = add_client("Portia", "Lane")
    add_portal_account(client, "portia@mail.example")  # portal account id 1
    staff = signed_in(staff_app, "jchen", ["clinician"], "Julia Chen")  # staff user id 1
    staff_cookie = staff.get_cookie("hearth_staff")
    assert staff_cookie is not None
    assert staff.get("/clients/").status_code == 200

    portal = portal_app.test_client()
    for name in ("hearth_staff", "hearth_portal"):
        portal.set_cookie(name, staff_cookie.value)
        response = portal.get("/")
        assert response.status_code == 302 and response.headers["Location"].startswith("/login")
        assert "Portia" not in response.get_data(as_text=True)


def test_the_two_apps_use_different_cookie_names(staff_app: Flask, portal_app: Flask) -> None:
    """Do the staff app and the portal name their session cookies differently?"""
    names = {staff_app.config["SESSION_COOKIE_NAME"], portal_app.config["SESSION_COOKIE_NAME"]}
    assert names == {"hearth_staff", "hearth_portal"}
    assert staff_app.secret_key != portal_app.secret_key
