"""The Huey instance, on an encrypted queue, and the registry of task modules.

The queue is its own SQLCipher file (var/queue.db) keyed with the database key:
Huey pickles task arguments, so even ids-only payloads are kept encrypted.
Tasks carry record ids only, never names or clinical text.

    from webapp.tasks import huey, hearth_task

    @hearth_task()
    def send_reminder(appointment_id: int) -> None: ...

`hearth worker` unlocks the queue and the database, imports TASK_MODULES and
runs the consumer.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from huey import Huey
from huey.storage import SqliteStorage
from sqlcipher3 import dbapi2 as sqlcipher

from appliance import HearthError
from appliance.storage import connect_raw, db

# Modules whose import registers tasks; the consumer imports each one.
TASK_MODULES = ["webapp.core.tasks", "webapp.mail.tasks", "webapp.audit.retention_tasks",
                "webapp.audit.tasks"]


class QueueLocked(HearthError):
    pass


class EncryptedQueueStorage(SqliteStorage):
    """Huey's SQLite storage over sqlcipher3, unlocked late with the raw key."""

    integrity_error = sqlcipher.IntegrityError
    operational_error = sqlcipher.OperationalError

    def __init__(self, name: str = "huey", **kwargs: Any) -> None:
        self._key: bytes | None = None
        kwargs["create_tables"] = False
        kwargs.pop("filename", None)
        super().__init__(name=name, filename="", fsync=True, **kwargs)

    def unlock(self, path: Path, key: bytes) -> None:
        self.close()
        self.filename = str(path)
        self._key = key
        self.initialize_schema()

    def _create_connection(self) -> Any:
        if self._key is None:
            raise QueueLocked("the task queue is locked: no key has been loaded")
        conn = connect_raw(Path(self.filename), self._key, create=True)
        self._set_journal_mode(conn)
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA temp_store = memory")
        return conn


huey = Huey("hearth", storage_class=EncryptedQueueStorage, utc=True)


def unlock_queue(path: Path, key: bytes) -> None:
    storage = huey.storage
    assert isinstance(storage, EncryptedQueueStorage)
    storage.unlock(path, key)


def _in_connection(function: Callable[..., Any]) -> Callable[..., Any]:
    """Run a task inside its own database connection, closed when it ends."""

    @functools.wraps(function)
    def run(*args: Any, **kwargs: Any) -> Any:
        with db.connection_context():
            return function(*args, **kwargs)

    return run


def hearth_task(**task_options: Any) -> Callable[[Callable[..., Any]], Any]:
    """A Huey task that runs inside its own database connection."""
    return lambda function: huey.task(**task_options)(_in_connection(function))


def hearth_periodic_task(validate_datetime: Any, **task_options: Any) -> Any:
    """A periodic Huey task that runs inside its own database connection."""
    return lambda function: huey.periodic_task(validate_datetime, **task_options)(
        _in_connection(function))


def import_task_modules() -> None:
    for name in TASK_MODULES:
        importlib.import_module(name)
