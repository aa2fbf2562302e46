"""Identity: what a full staff sign-in (password + TOTP code) costs the server.

The staff app runs in this process (Flask's test client, no network) on a real
encrypted data dir with the demo practice, with the product's argon2id cost
(argon2-cffi defaults). One sign-in is everything a browser asks for:

    GET /login  ->  POST /login (password)  ->  GET /login/code  ->  POST /login/code

each with a fresh browser (cookie jar). Between sign-ins the account's
`mfa_last_step` is cleared outside the timed part, because the replay guard
rightly refuses the same 30-second code twice. Figures (ms, over SIGN_INS):

- sign_in_median   median server time of one full sign-in (target < 400 ms)
- sign_in_p95      95th percentile of the same
- password_step_median  (no target) the POST /login alone: argon2id is most of it
"""

from __future__ import annotations

import os
import re
import statistics
import time
from typing import Any

from bench.common import Figure, demo_credentials, demo_data_dir, fmt, note

GROUP = "identity"
CLIENTS = 200  # sign-in reads no client record; a small practice builds quickly
SIGN_INS = 30
WARMUP = 3
TARGET = "< 400 ms"
_TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


class BenchError(RuntimeError):
    pass


def _token(response: Any, what: str) -> str:
    match = _TOKEN.search(response.get_data(as_text=True))
    if response.status_code != 200 or match is None:
        raise BenchError(f"{what} answered {response.status_code} without a CSRF token")
    return match.group(1)


def sign_in_once(app: Any, username: str, password: str, secret: str) -> tuple[float, float]:
    """One full sign-in in a fresh browser; returns (total seconds, password step seconds)."""
    import pyotp

    browser = app.test_client()
    started = time.perf_counter()
    token = _token(browser.get("/login"), "GET /login")
    before_password = time.perf_counter()
    first = browser.post("/login", data={"csrf_token": token, "username": username,
                                         "password": password})
    password_s = time.perf_counter() - before_password
    if first.status_code != 302 or first.headers.get("Location") != "/login/code":
        raise BenchError(f"POST /login answered {first.status_code} "
                         f"{first.headers.get('Location')} (expected the code step)")
    token = _token(browser.get("/login/code"), "GET /login/code")
    done = browser.post("/login/code", data={"csrf_token": token,
                                             "code": pyotp.TOTP(secret).now()})
    total_s = time.perf_counter() - started
    if done.status_code != 302 or done.headers.get("Location") != "/clients/":
        raise BenchError(f"POST /login/code answered {done.status_code} "
                         f"{done.headers.get('Location')} (expected the start page)")
    return total_s, password_s


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def run() -> list[Figure]:
    from appliance.config import Settings
    from appliance.storage import db
    from webapp import create_staff_app
    from webapp.core.models import StaffUser

    layout = demo_data_dir(CLIENTS)
    person = next(user for user in demo_credentials(layout)["staff"]
                  if "clinician" in user["roles"])
    if not person.get("totp_secret"):
        raise BenchError("the demo staff have no TOTP secret in demo-credentials.json")
    app = create_staff_app(Settings.load(layout))
    account = StaffUser.get(StaffUser.username == person["username"])
    note(f"{SIGN_INS} sign-ins as {person['username']} (password + TOTP), in-process, "
         f"real argon2id and SQLCipher")

    def forget_step() -> None:
        StaffUser.update(mfa_last_step=0).where(StaffUser.id == account.id).execute()

    totals, passwords = [], []
    try:
        for index in range(WARMUP + SIGN_INS):
            forget_step()
            total_s, password_s = sign_in_once(app, person["username"], person["password"],
                                               person["totp_secret"])
            if index >= WARMUP:
                totals.append(total_s * 1000)
                passwords.append(password_s * 1000)
    finally:
        if not db.is_closed():
            db.close()
    median, p95 = statistics.median(totals), percentile(totals, 0.95)
    password_median = statistics.median(passwords)
    load = os.getloadavg()[0]  # a busy shared machine stretches argon2's wall time
    detail = (f"GET /login, POST /login, GET /login/code, POST /login/code; "
              f"n={len(totals)}, min {fmt(min(totals))} ms, max {fmt(max(totals))} ms, "
              f"load average {load:.1f}")
    return [
        Figure(GROUP, "sign_in_median", median, "ms", target=TARGET, detail=detail),
        Figure(GROUP, "sign_in_p95", p95, "ms", target=TARGET, detail=f"n={len(totals)}"),
        Figure(GROUP, "password_step_median", password_median, "ms",
               detail="POST /login alone (argon2id verify)"),
    ]
