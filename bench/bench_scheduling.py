"""Scheduling: the week view of one clinician, and a conflict check, with 100,000
appointments in the database.

The staff app runs in this process (Flask's test client) on a real encrypted data dir
with the demo practice; 100,000 appointments (each with a client, in a room) are
spread over the demo clinicians, eight a weekday, so the measured clinician's week is
full and their calendar goes back years. Figures (ms):

- week_view_median      GET /schedule/clinicians/<id>/week as that clinician (target < 50 ms)
- conflict_check_median  clinician + room + client conflicts for one slot (target < 5 ms)
"""

from __future__ import annotations

import statistics
import time
from datetime import datetime, timedelta
from typing import Any

from bench.common import Figure, demo_credentials, demo_data_dir, fmt, note

GROUP = "scheduling"
CLIENTS = 2_000
APPOINTMENTS = 100_000
REQUESTS = 40
CHECKS = 400
WARMUP = 5
WEEK = datetime(2026, 11, 16)  # a Monday (local); the newest week of the data


def _fill(clinician_ids: list[int], client_ids: list[int]) -> None:
    """APPOINTMENTS rows, newest first from WEEK back, eight a weekday per clinician."""
    from appliance.storage import db
    from webapp.scheduling.models import Appointment, AppointmentClient, AppointmentType, Room

    kind = AppointmentType.create(name="Bench individual", cpt_code="90834")
    rooms = [Room.create(name=f"Bench room {n}").id for n in range(len(clinician_ids))]
    rows, attendees = [], []
    # The demo practice already holds a schedule: number ours after its appointments.
    base = Appointment.select(Appointment.id).order_by(Appointment.id.desc()).scalar() or 0
    day, made = WEEK + timedelta(days=4), 0
    while made < APPOINTMENTS:
        if day.weekday() < 5:
            for slot in range(8):
                start = day + timedelta(hours=14 + slot)  # 9 AM local, as UTC
                for index, clinician_id in enumerate(clinician_ids):
                    if made == APPOINTMENTS:
                        break
                    made += 1
                    rows.append({"id": base + made, "clinician": clinician_id,
                                 "room": rooms[index],
                                 "appointment_type": kind.id, "starts_at": start,
                                 "ends_at": start + timedelta(minutes=50)})
                    attendees.append({"appointment": base + made,
                                      "client": client_ids[made % len(client_ids)]})
        day -= timedelta(days=1)
    with db.atomic():
        for first in range(0, len(rows), 2000):
            Appointment.insert_many(rows[first:first + 2000]).execute()
            AppointmentClient.insert_many(attendees[first:first + 2000]).execute()


def run() -> list[Figure]:
    from appliance.config import Settings
    from appliance.storage import db
    from webapp import create_staff_app
    from webapp.clients.models import Client
    from webapp.core.models import StaffUser
    from webapp.scheduling.conflicts import find_conflicts

    layout = demo_data_dir(CLIENTS)
    person = next(user for user in demo_credentials(layout)["staff"]
                  if user["roles"] == ["clinician"])
    app = create_staff_app(Settings.load(layout))
    try:
        with db.connection_context():
            clinicians = [user.id for user in StaffUser.select()
                          if user.role_set & {"clinician", "supervisor"}]
            clients = [client.id for client in Client.select(Client.id)]
            started = time.perf_counter()
            _fill(clinicians, clients)
            note(f"{APPOINTMENTS:,} appointments over {len(clinicians)} clinicians in "
                 f"{time.perf_counter() - started:.0f} s")
            account = StaffUser.get(StaffUser.username == person["username"])
            StaffUser.update(mfa_last_step=0).where(StaffUser.id == account.id).execute()
        browser = _signed_in(app, person)
        url = f"/schedule/clinicians/{account.id}/week?date={WEEK.date().isoformat()}"
        timings = []
        for index in range(WARMUP + REQUESTS):
            began = time.perf_counter()
            response = browser.get(url)
            elapsed = time.perf_counter() - began
            if response.status_code != 200 or "Bench individual" not in response.text:
                raise RuntimeError(f"GET {url} answered {response.status_code}")
            if index >= WARMUP:
                timings.append(elapsed * 1000)
        rows = response.text.count('class="status-')
        checks = []
        with db.connection_context():
            slot = WEEK + timedelta(days=2, hours=15)
            room = 1
            for index in range(WARMUP + CHECKS):
                began = time.perf_counter()
                found = find_conflicts(account.id, room, [clients[index % len(clients)]],
                                       slot, slot + timedelta(minutes=50))
                elapsed = time.perf_counter() - began
                if not found:
                    raise RuntimeError("the conflict check found no conflict in a full week")
                if index >= WARMUP:
                    checks.append(elapsed * 1000)
    finally:
        if not db.is_closed():
            db.close()
    week = statistics.median(timings)
    check = statistics.median(checks)
    return [
        Figure(GROUP, "week_view_median", week, "ms", target="< 50 ms",
               detail=f"{rows} appointments on the page, {APPOINTMENTS:,} in the database, "
                      f"n={len(timings)}, max {fmt(max(timings))} ms"),
        Figure(GROUP, "conflict_check_median", check, "ms", target="< 5 ms",
               detail=f"clinician, room and client, {len(found)} conflict(s) found, "
                      f"n={len(checks)}"),
    ]


def _signed_in(app: Any, person: dict[str, Any]) -> Any:
    """A browser signed in as `person` (the full password + code sign-in)."""
    import pyotp

    browser = app.test_client()
    page = browser.get("/login")
    token = page.text.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    browser.post("/login", data={"csrf_token": token, "username": person["username"],
                                 "password": person["password"]})
    page = browser.get("/login/code")
    token = page.text.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    done = browser.post("/login/code", data={"csrf_token": token,
                                             "code": pyotp.TOTP(person["totp_secret"]).now()})
    if done.status_code != 302:
        raise RuntimeError(f"sign-in answered {done.status_code}")
    return browser
