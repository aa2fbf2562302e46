"""Shared fixtures: every test gets its own data directory and encrypted database."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from appliance import keys, storage
from appliance.config import Settings
from appliance.migrations import migrate
from appliance.paths import Layout
from webapp.core.accounts import create_staff_user
from webapp.core.models import StaffUser

ROOT = Path(__file__).resolve().parent.parent
HEARTH = [sys.executable, "-m", "appliance.cli"]
PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _release_database() -> Iterator[None]:
    yield
    if not storage.db.is_closed():
        storage.db.close()
    storage.release_shared_lock()


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
               full_name: str = "Julia Chen") -> StaffUser:
    with storage.db.connection_context():
        return create_staff_user(username, full_name, roles or ["clinician"], PASSWORD)


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    page = client.get(path)
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def login(client: FlaskClient, username: str, password: str = PASSWORD) -> Any:
    return client.post("/login", data={"csrf_token": csrf_token(client), "username": username,
                                       "password": password})


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
