"""Two writers at once: the second waits briefly for the lock, and gives up cleanly."""

from __future__ import annotations

import threading
import time

import pytest
from sqlcipher3 import dbapi2 as sqlcipher

from appliance import keys, storage
from appliance.config import Settings


def writer(settings: Settings) -> sqlcipher.Connection:
    layout = settings.layout
    return storage.connect_raw(layout.database, keys.load_key(layout, keys.DATABASE_KEY))


def hold_write_lock(conn: sqlcipher.Connection, seconds: float, started: threading.Event) -> None:
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO worker_heartbeat (name, beat_at) VALUES ('holder', '2026-01-01')")
    started.set()
    time.sleep(seconds)
    conn.execute("COMMIT")


def test_a_second_writer_waits_for_the_lock(settings: Settings) -> None:
    """Does a write that meets another's lock wait and then succeed, soon after release?"""
    first, second = writer(settings), writer(settings)
    started = threading.Event()
    holder = threading.Thread(target=hold_write_lock, args=(first, 0.3, started))
    holder.start()
    started.wait(5)
    began = time.monotonic()
    second.execute("INSERT INTO worker_heartbeat (name, beat_at) VALUES ('waiter', '2026-01-01')")
    waited = time.monotonic() - began
    holder.join()
    names = {row[0] for row in second.execute("SELECT name FROM worker_heartbeat")}
    assert names == {"holder", "waiter"}
    assert waited > 0.2
    first.close()
    second.close()


def test_a_writer_gives_up_after_the_limit(settings: Settings,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Does a writer blocked past the limit get 'database is locked' and write nothing?"""
    monkeypatch.setattr(storage, "BUSY_WAIT_LIMIT", 0.05)
    first, second = writer(settings), writer(settings)
    started = threading.Event()
    holder = threading.Thread(target=hold_write_lock, args=(first, 1.0, started))
    holder.start()
    started.wait(5)
    with pytest.raises(sqlcipher.OperationalError, match="locked"):
        second.execute("INSERT INTO worker_heartbeat (name, beat_at) "
                       "VALUES ('waiter', '2026-01-01')")
    holder.join()
    names = {row[0] for row in second.execute("SELECT name FROM worker_heartbeat")}
    assert names == {"holder"}
    first.close()
    second.close()


def test_transactions_take_the_write_lock_at_once(settings: Settings) -> None:
    """Does a read-then-write transaction wait for a concurrent writer instead of failing
    (the deferred-transaction snapshot error)?"""
    storage.open_database(settings.layout)
    other = writer(settings)
    results: list[str] = []

    def read_then_write() -> None:
        with storage.db.connection_context(), storage.db.atomic():
            storage.db.execute_sql("SELECT count(*) FROM worker_heartbeat").fetchone()
            time.sleep(0.2)  # meanwhile the other connection tries to write
            storage.db.execute_sql(
                "INSERT INTO worker_heartbeat (name, beat_at) VALUES ('first', '2026-01-01')")
        results.append("first")

    thread = threading.Thread(target=read_then_write)
    thread.start()
    time.sleep(0.05)
    other.execute("INSERT INTO worker_heartbeat (name, beat_at) VALUES ('second', '2026-01-01')")
    results.append("second")
    thread.join()
    assert results == ["first", "second"]
    names = {row[0] for row in other.execute("SELECT name FROM worker_heartbeat")}
    assert names == {"first", "second"}
    other.close()
