"""Every file under the data dir that can hold client data is unreadable without the key."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import date
from pathlib import Path

import pytest

from appliance.keys import DATABASE_KEY, load_key
from appliance.paths import Layout
from appliance.storage import db, open_database
from tests.integration.conftest import release_database, start_worker, stop_process
from webapp.clients.models import Client
from webapp.clients.service import fold
from webapp.core.tasks import ping
from webapp.tasks import huey, unlock_queue

pytestmark = pytest.mark.slow

# Files that hold no client data by design: the demo sign-ins and the settings.
NO_CLIENT_DATA = {"demo-credentials.json", "hearth.toml"}

# Written while the scan runs, so its pages are in hearth.db-wal, not yet checkpointed.
RECENT_CLIENT = {"legal_first_name": "Wilhelmina", "legal_last_name": "Quisenberry-Ødegård",
                 "email": "wilhelmina.quisenberry@mail.example"}


def demo_phi(limit: int = 12) -> set[str]:
    """Names and e-mails of demo clients, long enough that random bytes never match them."""
    with db.connection_context():
        clients = list(Client.select().order_by(Client.id))
    assert len(clients) == 150
    last = sorted({c.legal_last_name for c in clients if len(c.legal_last_name) >= 6})
    first = sorted({c.legal_first_name for c in clients if len(c.legal_first_name) >= 6})
    emails = {c.email for c in clients}
    assert len(last) >= limit and len(first) >= limit
    assert any(not name.isascii() for name in last + first), "want an accented name too"
    return set(last[:limit]) | set(first[:limit]) | {fold(n) for n in last[:limit]} | emails


def database_files(layout: Layout) -> list[Path]:
    names = ("hearth.db", "hearth.db-wal", "queue.db", "queue.db-wal")
    return [layout.data_dir / name for name in names]


def test_no_client_data_readable_at_rest(demo_layout: Layout,
                                         worker_processes: list) -> None:
    """After `hearth init`, `hearth demo` and a real worker run, does every database file
    refuse the standard sqlite3 module, and do the raw bytes of every file under the
    data dir hold no demo client's name or e-mail?"""
    key = load_key(demo_layout, DATABASE_KEY)
    worker = start_worker(demo_layout)
    worker_processes.append(worker)
    try:
        unlock_queue(demo_layout.queue, key)
        assert ping(42).get(blocking=True, timeout=30) == 42
        _, errors = stop_process(worker)
        assert "Traceback" not in errors
        # With the worker stopped, this task stays in the queue file.
        ping(7)
        assert huey.pending_count() == 1

        open_database(demo_layout)
        phi = demo_phi()
        phi |= set(RECENT_CLIENT.values())
        # Keep this connection open so the newest client's pages stay in the WAL.
        db.connect()
        Client.create(date_of_birth=date(1990, 5, 17), **RECENT_CLIENT)

        for path in database_files(demo_layout):
            assert path.exists() and path.stat().st_size > 0, path
            with (closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as plain,
                  pytest.raises(sqlite3.DatabaseError)):
                plain.execute("SELECT * FROM sqlite_master").fetchall()

        scanned = []
        for path in sorted(demo_layout.data_dir.rglob("*")):
            if not path.is_file() or path.name in NO_CLIENT_DATA:
                continue
            raw = path.read_bytes()
            found = [value for value in phi if value.encode("utf-8") in raw]
            assert not found, f"{path.name} holds {found[:3]} in the clear"
            scanned.append(path.name)
        assert {"hearth.db", "hearth.db-wal", "queue.db", "queue.db-wal", DATABASE_KEY} <= set(
            scanned)
    finally:
        huey.storage.close()
        release_database()
