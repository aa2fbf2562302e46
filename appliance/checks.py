"""Health checks: one registry, shown by `hearth check` (and later the admin console and e-mail).

    @check("disk space")
    def disk_space(settings) -> Result: ...

Each check returns ok, warn or fail with a short detail; a check that raises
is a fail, so one broken check never hides the others.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from appliance import HearthError
from appliance.config import Settings
from appliance.keys import ALL_KEYS, credential_path, key_path, load_key


@dataclass(frozen=True)
class Result:
    name: str
    status: str  # ok, warn, fail
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "status": self.status, "detail": self.detail}


Check = Callable[[Settings], tuple[str, str]]
REGISTRY: list[tuple[str, Check]] = []


def check(name: str) -> Callable[[Check], Check]:
    def register(function: Check) -> Check:
        REGISTRY.append((name, function))
        return function

    return register


def run_checks(settings: Settings) -> list[Result]:
    results = []
    for name, function in REGISTRY:
        try:
            status, detail = function(settings)
        except HearthError as exc:
            status, detail = "fail", str(exc)
        except Exception as exc:
            status, detail = "fail", f"{type(exc).__name__}: {exc}"
        results.append(Result(name, status, detail))
    return results


@check("key files")
def key_files(settings: Settings) -> tuple[str, str]:
    problems = []
    for name in ALL_KEYS:
        if credential_path(name) is not None:
            continue
        path = key_path(settings.layout, name)
        if not path.exists():
            problems.append(f"{name} missing")
            continue
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            problems.append(f"{name} mode {mode:04o}")
        if path.stat().st_uid != os.geteuid():
            problems.append(f"{name} not owned by this user")
    if problems:
        return "fail", "; ".join(problems)
    return "ok", "present, 0600, owned by the service user"


@check("database opens with the key")
def database_opens(settings: Settings) -> tuple[str, str]:
    from appliance.storage import open_database

    open_database(settings.layout)
    return "ok", f"{settings.layout.database}"


@check("database integrity")
def database_integrity(settings: Settings) -> tuple[str, str]:
    from appliance.keys import DATABASE_KEY
    from appliance.storage import connect_raw, integrity_problems, open_database

    # Opening first turns a wrong key, a missing file or an interrupted rotation
    # into its own clear message instead of a page-by-page list of failures.
    open_database(settings.layout, check_schema=False)
    conn = connect_raw(settings.layout.database, load_key(settings.layout, DATABASE_KEY))
    try:
        problems = integrity_problems(conn)
    finally:
        conn.close()
    if problems:
        return "fail", f"{len(problems)} problem(s), first: {problems[0]}"
    return "ok", "cipher_integrity_check and integrity_check passed"


@check("disk space")
def disk_space(settings: Settings) -> tuple[str, str]:
    usage = shutil.disk_usage(settings.layout.data_dir)
    free_fraction = usage.free / usage.total
    detail = f"{usage.free / 2**30:.1f} GiB free ({free_fraction:.0%})"
    if usage.free < 512 * 2**20 or free_fraction < 0.03:
        return "fail", detail
    if usage.free < 2 * 2**30 or free_fraction < 0.10:
        return "warn", detail
    return "ok", detail


@check("worker heartbeat")
def worker_heartbeat(settings: Settings) -> tuple[str, str]:
    from appliance.storage import db, open_database
    from webapp.core.models import WorkerHeartbeat
    from webapp.core.tasks import HEARTBEAT
    from webapp.core.timeutil import utcnow

    open_database(settings.layout)
    with db.connection_context():
        beat = WorkerHeartbeat.get_or_none(WorkerHeartbeat.name == HEARTBEAT)
    if beat is None:
        return "warn", "the worker has never run"
    age: timedelta = utcnow() - beat.beat_at
    when = _ago(age, beat.beat_at)
    if age > timedelta(minutes=30):
        return "fail", f"last seen {when}: reminders and backups are not running"
    if age > timedelta(minutes=3):
        return "warn", f"last seen {when}"
    return "ok", f"last seen {when}"


def _ago(age: timedelta, moment: datetime) -> str:
    minutes = int(age.total_seconds() // 60)
    return f"{minutes} min ago ({moment:%Y-%m-%d %H:%M} UTC)"


@check("business associate agreements")
def business_associates(settings: Settings) -> tuple[str, str]:
    """Warns (never fails) while a configured outside service lacks a current BAA."""
    from appliance.storage import db, open_database
    from webapp.admin.service import lacking_baa, sync_configured_services

    open_database(settings.layout)
    with db.connection_context():
        sync_configured_services(settings)
        lacking = lacking_baa(settings)
    if lacking:
        names = "; ".join(f"{entry.vendor} ({entry.service})" for entry in lacking)
        return "warn", f"no current BAA: {names}"
    return "ok", "every configured service has a current BAA"


@check("audit alerts")
def audit_alerts(settings: Settings) -> tuple[str, str]:
    """Warns (never fails) on failed sign-in or refusal bursts, unreviewed break-glass use,
    and an audit chain that failed or went unverified (thresholds: webapp.audit.alerts)."""
    from appliance.storage import db, open_database
    from webapp.audit.alerts import current_alerts

    open_database(settings.layout)
    with db.connection_context():
        alerts = current_alerts(settings.layout)
    if alerts:
        return "warn", " ".join(alert.message for alert in alerts)
    return "ok", "nothing needs attention"
