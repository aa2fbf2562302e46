"""Core tasks: the worker heartbeat that `hearth check` reads."""

from __future__ import annotations

from datetime import datetime

from huey import crontab

from webapp.core.models import WorkerHeartbeat
from webapp.core.sessions import purge_expired
from webapp.core.timeutil import utcnow
from webapp.tasks import hearth_periodic_task, hearth_task, huey

HEARTBEAT = "worker"


def record_heartbeat() -> datetime:
    now = utcnow()
    WorkerHeartbeat.insert(name=HEARTBEAT, beat_at=now).on_conflict_replace().execute()
    return now


@hearth_periodic_task(crontab(minute="*"))
def heartbeat() -> None:
    record_heartbeat()


@hearth_task()
def ping(token: int) -> int:
    """Round-trip check used by `hearth check --deep` and the tests."""
    record_heartbeat()
    return token


@huey.on_startup()
def heartbeat_on_startup() -> None:
    from appliance.storage import db

    with db.connection_context():
        record_heartbeat()


@hearth_periodic_task(crontab(minute="*/15"))
def purge_expired_sessions() -> int:
    """Delete sessions past their idle or absolute timeout (signed-out browsers, bots)."""
    return purge_expired()
