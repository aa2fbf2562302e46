"""`make run`, the first command in the README, end to end on free ports."""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pyotp
import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str, deadline: float) -> dict[str, str]:
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return json.loads(response.read())
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer in time")


def test_make_run_serves_both_apps_and_the_worker(tmp_path: Path) -> None:
    """Does `make run` set up a data dir, load the demo and serve staff app, portal and worker?"""
    data = tmp_path / "var"
    staff_port, portal_port = free_port(), free_port()
    env = dict(os.environ, HEARTH_DATA_DIR=str(data), HEARTH_CONFIG_DIR=str(data),
               HEARTH_STAFF_PORT=str(staff_port), HEARTH_PORTAL_PORT=str(portal_port))
    env.pop("MAKEFLAGS", None)
    process = subprocess.Popen(["make", "-s", "run"], cwd=ROOT, env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        assert wait_for(f"http://127.0.0.1:{staff_port}/healthz", deadline) == {"status": "ok"}
        assert wait_for(f"http://127.0.0.1:{portal_port}/healthz", deadline) == {"status": "ok"}

        credentials = json.loads((data / "demo-credentials.json").read_text())
        clinician = next(u for u in credentials["staff"] if "clinician" in u["roles"])
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        base = f"http://127.0.0.1:{staff_port}"
        page = opener.open(f"{base}/login").read().decode()
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
        assert token
        form = urllib.parse.urlencode({"csrf_token": token.group(1),
                                       "username": clinician["username"],
                                       "password": clinician["password"]}).encode()
        code_page = opener.open(f"{base}/login", data=form).read().decode()
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', code_page)
        assert token and 'name="code"' in code_page  # demo staff use two-step sign-in
        form = urllib.parse.urlencode({"csrf_token": token.group(1), "code": pyotp.TOTP(
            clinician["totp_secret"]).now()}).encode()
        clients_page = opener.open(f"{base}/login/code", data=form).read().decode()
        assert "<h1>Clients</h1>" in clients_page
        assert clients_page.count('href="/clients/') >= 50

        # The worker is up when its start-up heartbeat is in the database.
        while time.monotonic() < deadline:
            check = subprocess.run([str(ROOT / ".venv/bin/hearth"), "check"], env=env,
                                   capture_output=True, text=True, timeout=60)
            if re.search(r"^ok\s+worker heartbeat", check.stdout, re.M):
                break
            time.sleep(1)
        else:
            raise AssertionError(f"worker never reported: {check.stdout}")
    finally:
        os.killpg(process.pid, signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    assert f"http://127.0.0.1:{staff_port}/" in output
    assert f"http://127.0.0.1:{portal_port}/" in output
    assert "demo-credentials.json" in output
    assert "Traceback" not in output
