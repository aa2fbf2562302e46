"""Shared fixtures: every test gets its own data directory and encrypted database."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient

from appliance import keys, storage
from appliance.config import Settings
from appliance.migrations import migrate
from appliance.paths import Layout
from webapp.core.accounts import create_staff_user
from webapp.core.models import StaffUser
from webapp.core.timeutil import utcnow

ROOT = Path(__file__).resolve().parent.parent
HEARTH = [sys.executable, "-m", "appliance.cli"]
PASSWORD = "correct horse battery staple"
# The TOTP secret make_staff enrols by default (base32, 160 bits; test data only).
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@pytest.fixture(autouse=True)
def _release_database() -> Iterator[None]:
    yield
    if not storage.db.is_closed():
        storage.db.close()
    storage.release_shared_lock()


@pytest.fixture(autouse=True)
def _fresh_practice_settings() -> Iterator[None]:
    """Practice settings are cached per process; each test's new database starts clean."""
    from webapp.core import practice_settings

    practice_settings.forget_cache()
    yield
    practice_settings.forget_cache()


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    data = tmp_path / "var"
    return Layout(data_dir=data, config_dir=data)


def initialize(layout: Layout) -> Settings:
    """What `hearth init` does, in-process: keys, encrypted database, migrations."""
    layout.data_dir.mkdir(parents=True, exist_ok=True)
    keys.ensure_keys(layout)
    database = storage.open_database(layout, create=True, check_schema=False)
    migrate(database)
    return Settings(layout=layout, testing=True)


@pytest.fixture
def settings(layout: Layout) -> Settings:
    return initialize(layout)


@pytest.fixture
def staff_app(settings: Settings) -> Flask:
    from webapp import create_staff_app

    return create_staff_app(settings)


@pytest.fixture
def portal_app(settings: Settings) -> Flask:
    from webapp import create_portal_app

    return create_portal_app(settings)


@pytest.fixture
def staff_client(staff_app: Flask) -> FlaskClient:
    return staff_app.test_client()


def make_staff(username: str = "jchen", roles: list[str] | None = None,
               full_name: str = "Julia Chen", mfa: bool = True) -> StaffUser:
    """A staff account with PASSWORD; enrolled in TOTP with TOTP_SECRET unless mfa=False.

    The secret is written straight to the row (no audit entry), as if the person
    had enrolled earlier; `login` then answers the code step with it.
    """
    with storage.db.connection_context():
        user = create_staff_user(username, full_name, roles or ["clinician"], PASSWORD)
        if mfa:
            StaffUser.update(mfa_secret=TOTP_SECRET, mfa_enrolled_at=utcnow()).where(
                StaffUser.id == user.id).execute()
            user.mfa_secret = TOTP_SECRET
        return user


def totp_code(secret: str = TOTP_SECRET, steps: int = 0) -> str:
    """The code an authenticator app shows now (or `steps` 30-second steps away)."""
    return pyotp.TOTP(secret).at(int(time.time()) + 30 * steps)


def csrf_token(client: FlaskClient, path: str = "/login", **request: Any) -> str:
    page = client.get(path, **request)
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def login(client: FlaskClient, username: str, password: str = PASSWORD, **request: Any) -> Any:
    """Sign in as a browser would: the password, then the TOTP code when the app asks.

    Returns the last response: the redirect after a full sign-in, or the refused page.
    Before answering the code step it clears the account's `mfa_last_step` in the
    database, so a test may sign the same person in several times within one
    30-second step (the replay guard would rightly refuse the second code);
    replay protection is tested on its own in test_mfa.py. `request` (base_url,
    headers) goes to every request.
    """
    response = client.post("/login", data={"csrf_token": csrf_token(client, **request),
                                           "username": username, "password": password},
                           **request)
    if response.status_code == 302 and response.headers["Location"] == "/login/code":
        model = client.application.config["HEARTH_ACCOUNT_MODEL"]
        with storage.db.connection_context():
            account = model.get(model.username == username.strip().lower())
            model.update(mfa_last_step=0).where(model.id == account.id).execute()
        token = csrf_token(client, "/login/code", **request)
        response = client.post("/login/code", data={"csrf_token": token,
                                                    "code": totp_code(account.mfa_secret)},
                               **request)
    return response


@pytest.fixture
def clinician_client(staff_client: FlaskClient) -> FlaskClient:
    make_staff("jchen", ["clinician"])
    response = login(staff_client, "jchen")
    assert response.status_code == 302
    return staff_client


def run_hearth(layout: Layout, *args: str, env: dict[str, str] | None = None,
               timeout: float = 120, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run the real `hearth` command against `layout`."""
    environment = dict(os.environ, HEARTH_DATA_DIR=str(layout.data_dir),
                       HEARTH_CONFIG_DIR=str(layout.config_dir), **(env or {}))
    environment.pop("CREDENTIALS_DIRECTORY", None)
    return subprocess.run([*HEARTH, *args], env=environment, capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, **kwargs)
