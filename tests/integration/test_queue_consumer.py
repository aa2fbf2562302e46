"""A real Huey consumer (`hearth worker`) on the encrypted queue: it runs tasks, beats its
heartbeat, and the queue holds nothing but record ids."""

from __future__ import annotations

import subprocess
from datetime import timedelta

import pytest

from appliance.config import Settings
from appliance.keys import DATABASE_KEY, load_key
from appliance.storage import connect_raw, db, open_database
from tests.conftest import run_hearth
from tests.integration.conftest import release_database, start_worker, stop_process
from webapp.core.models import WorkerHeartbeat
from webapp.core.tasks import HEARTBEAT, ping
from webapp.core.timeutil import utcnow
from webapp.tasks import huey, unlock_queue

pytestmark = pytest.mark.slow


def test_consumer_runs_ping_and_beats(settings: Settings,
                                      worker_processes: list[subprocess.Popen[str]]) -> None:
    """Does a real consumer run ping(42) enqueued from here, with only the id stored in
    the encrypted queue, write its heartbeat, and does `hearth check` then say "ok"?"""
    layout = settings.layout
    key = load_key(layout, DATABASE_KEY)
    release_database()
    unlock_queue(layout.queue, key)
    try:
        result = ping(42)

        # Before any consumer runs, the queued message is in queue.db: only the id.
        conn = connect_raw(layout.queue, key)
        try:
            rows = conn.execute("SELECT queue, data FROM task").fetchall()
        finally:
            conn.close()
        assert len(rows) == 1
        queue_name, data = rows[0]
        assert queue_name == "hearth"
        message = huey.serializer.deserialize(data)
        assert message.name.endswith("ping")
        assert message.args == (42,)
        assert message.kwargs == {}

        worker = start_worker(layout)
        worker_processes.append(worker)
        assert result.get(blocking=True, timeout=30) == 42
        assert worker.poll() is None, stop_process(worker)
        assert huey.pending_count() == 0

        open_database(layout)
        with db.connection_context():
            beat = WorkerHeartbeat.get(WorkerHeartbeat.name == HEARTBEAT)
        assert utcnow() - beat.beat_at < timedelta(minutes=1)
        release_database()

        check = run_hearth(layout, "check")
        assert check.returncode == 0, check.stdout + check.stderr
        assert "ok    worker heartbeat: last seen 0 min ago" in check.stdout
    finally:
        huey.storage.close()
        release_database()
    _, errors = stop_process(worker)
    assert worker.returncode is not None
    assert "Traceback" not in errors
