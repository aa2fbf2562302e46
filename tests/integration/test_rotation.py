"""`hearth keys rotate`: the database and the queue move to a new key with every row, or
not at all; an interrupted rotation is finished or undone by the next run."""

from __future__ import annotations

import fcntl
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlcipher3 import dbapi2 as sqlcipher

from appliance.fileutil import replace_file, write_new_file
from appliance.keys import (
    DATABASE_KEY,
    PORTAL_SESSION_KEY,
    STAFF_SESSION_KEY,
    generate_key,
    load_key,
)
from appliance.paths import Layout
from appliance.rotation import _export, _pending_key, _swap_in
from appliance.storage import DatabaseProblem, connect_raw, open_database
from tests.conftest import HEARTH, ROOT, run_hearth
from tests.integration.conftest import (
    assert_one_line_failure,
    file_digests,
    hearth_env,
    release_database,
    stop_process,
)
from webapp.core.tasks import ping
from webapp.tasks import huey, unlock_queue

Snapshot = dict[str, list[tuple[Any, ...]]]

INTERRUPTED = "a key rotation was interrupted; run 'hearth keys rotate' to finish it"


def snapshot(path: Path, key: bytes) -> Snapshot:
    """Every row of every table, in order."""
    conn = connect_raw(path, key)
    try:
        tables = [row[0] for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").fetchall()]
        return {table: conn.execute(f'SELECT * FROM "{table}" ORDER BY 1').fetchall()
                for table in tables}
    finally:
        conn.close()


def opens_with(path: Path, key: bytes) -> bool:
    conn = connect_raw(path, key)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlcipher.DatabaseError:
        return False
    finally:
        conn.close()
    return True


def leftovers(layout: Layout) -> list[str]:
    return sorted(p.name for p in layout.data_dir.rglob("*")
                  if p.name.endswith((".rekey", ".new")) or ".tmp" in p.name)


@pytest.fixture
def practice(demo_layout: Layout) -> dict[str, Any]:
    """The demo practice plus a queue holding one task; what both files hold, by key."""
    key = load_key(demo_layout, DATABASE_KEY)
    unlock_queue(demo_layout.queue, key)
    try:
        ping(5)
        assert huey.pending_count() == 1
    finally:
        huey.storage.close()
    release_database()
    state = {"layout": demo_layout, "key": key,
             "database": snapshot(demo_layout.database, key),
             "queue": snapshot(demo_layout.queue, key)}
    assert len(state["database"]["client"]) == 150
    assert len(state["queue"]["task"]) == 1
    return state


def assert_practice_intact(practice: dict[str, Any], command: str = "check") -> bytes:
    """Both files open with the key on disk and hold exactly the rows they held before,
    and `hearth <command>` (check, or the quicker migrate) opens the database."""
    layout = practice["layout"]
    key = load_key(layout, DATABASE_KEY)
    assert snapshot(layout.database, key) == practice["database"]
    assert snapshot(layout.queue, key) == practice["queue"]
    assert leftovers(layout) == []
    result = run_hearth(layout, command)
    assert result.returncode == 0, result.stdout + result.stderr
    return key


def test_rotate_rekeys_database_and_queue(practice: dict[str, Any]) -> None:
    """After `hearth keys rotate`, is the key new, do both files open only with it, and
    is every demo row and queued task still there?"""
    layout: Layout = practice["layout"]
    old_key: bytes = practice["key"]
    session_keys = {name: (layout.key_dir / name).read_bytes()
                    for name in (STAFF_SESSION_KEY, PORTAL_SESSION_KEY)}

    result = run_hearth(layout, "keys", "rotate")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "copied and verified hearth.db under the new key",
        "copied and verified queue.db under the new key",
        "the database key is rotated; back up the new key file now",
    ]

    new_key = assert_practice_intact(practice)
    assert new_key != old_key
    assert (layout.key_dir / DATABASE_KEY).stat().st_mode & 0o777 == 0o600
    for path in (layout.database, layout.queue):
        assert path.stat().st_mode & 0o777 == 0o600
        assert opens_with(path, new_key)
        assert not opens_with(path, old_key)
    for name, content in session_keys.items():
        assert (layout.key_dir / name).read_bytes() == content

    # The queued task survives and is still the same call.
    task_data = practice["queue"]["task"][0][2]
    message = huey.serializer.deserialize(task_data)
    assert message.args == (5,) and message.kwargs == {}


def wait_until_locked(layout: Layout, process: subprocess.Popen[str],
                      timeout: float = 30) -> None:
    """Wait until some process holds the shared lock (an exclusive one cannot be had)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, stop_process(process)
        if layout.lock_file.exists():
            fd = os.open(layout.lock_file, os.O_RDWR)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return
            finally:
                os.close(fd)
        time.sleep(0.1)
    raise AssertionError("the other process never took the shared lock")


HOLD_DATABASE = ("import time\n"
                 "from appliance.paths import Layout\n"
                 "from appliance.storage import open_database\n"
                 "open_database(Layout.discover())\n"
                 "time.sleep(120)\n")


@pytest.mark.parametrize("holder", ["python", "worker"])
def test_rotation_refused_while_hearth_runs(practice: dict[str, Any],
                                            worker_processes: list, holder: str) -> None:
    """While another process has the database open, is rotation refused with a clear
    line and nothing changed?"""
    layout: Layout = practice["layout"]
    command = ([*HEARTH, "worker", "--workers", "1"] if holder == "worker"
               else [HEARTH[0], "-c", HOLD_DATABASE])
    process = subprocess.Popen(command, env=hearth_env(layout), cwd=ROOT, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    worker_processes.append(process)
    wait_until_locked(layout, process)
    keys_before = file_digests(layout.key_dir)
    files_before = {path: file_digests(layout.data_dir)[path]
                    for path in ("hearth.db", "queue.db")}

    result = run_hearth(layout, "keys", "rotate")
    assert_one_line_failure(result, "Hearth is running (an app or the worker has the "
                                    "database open); stop the staff app, portal and worker")
    assert result.stdout == ""
    assert file_digests(layout.key_dir) == keys_before
    assert leftovers(layout) == []
    stop_process(process)
    after = file_digests(layout.data_dir)
    if holder == "python":  # the worker writes its heartbeat; the holder writes nothing
        assert {path: after[path] for path in files_before} == files_before
    assert load_key(layout, DATABASE_KEY) == practice["key"]
    assert opens_with(layout.database, practice["key"])


# --- crashes: the on-disk states rotation.py's docstring describes ----------------------

def copies_made(layout: Layout, old: bytes, new: bytes) -> None:
    """Crash in step 1: verified `.rekey` copies exist, the new key was never written."""
    for path in (layout.database, layout.queue):
        _export(path, old, new)


def copy_half_written(layout: Layout, old: bytes, new: bytes) -> None:
    """Crash during step 1: one copy complete, the next cut off while being written."""
    _export(layout.database, old, new)
    partial = layout.queue.with_name("queue.db.rekey")
    partial.write_bytes(os.urandom(3000))


def committed(layout: Layout, old: bytes, new: bytes) -> None:
    """Crash right after step 2: db.key.new written, no copy swapped in yet."""
    copies_made(layout, old, new)
    write_new_file(_pending_key(layout), new.hex().encode() + b"\n", mode=0o600)


def database_swapped(layout: Layout, old: bytes, new: bytes) -> None:
    """Crash in step 3: hearth.db is under the new key, queue.db still under the old."""
    committed(layout, old, new)
    _swap_in(layout.database.with_name("hearth.db.rekey"), layout.database)


def files_swapped(layout: Layout, old: bytes, new: bytes) -> None:
    """Crash in step 3: both files under the new key, db.key still the old key."""
    database_swapped(layout, old, new)
    _swap_in(layout.queue.with_name("queue.db.rekey"), layout.queue)


def key_installed(layout: Layout, old: bytes, new: bytes) -> None:
    """Crash at the very end: db.key replaced, db.key.new not yet removed."""
    files_swapped(layout, old, new)
    replace_file(layout.key_dir / DATABASE_KEY, new.hex().encode() + b"\n")


CRASHES: list[tuple[Callable[[Layout, bytes, bytes], None], bool, list[str]]] = [
    (copies_made, False, ["removed unfinished copy hearth.db.rekey",
                          "removed unfinished copy queue.db.rekey"]),
    (copy_half_written, False, ["removed unfinished copy hearth.db.rekey",
                                "removed unfinished copy queue.db.rekey"]),
    (committed, True, ["finished re-keying hearth.db", "finished re-keying queue.db",
                       "installed the new key from an interrupted rotation"]),
    (database_swapped, True, ["finished re-keying queue.db",
                              "installed the new key from an interrupted rotation"]),
    (files_swapped, True, ["installed the new key from an interrupted rotation"]),
    (key_installed, True, ["installed the new key from an interrupted rotation"]),
]


@pytest.mark.parametrize(("crash", "rolls_forward", "recovery"), CRASHES,
                         ids=[c[0].__name__ for c in CRASHES])
def test_interrupted_rotation_is_finished_or_undone(
        practice: dict[str, Any], crash: Callable[[Layout, bytes, bytes], None],
        rolls_forward: bool, recovery: list[str]) -> None:
    """After a crash at each point of a rotation, does a normal open say so (once the new
    key is committed) and does `hearth keys rotate` recover with no row lost?"""
    layout: Layout = practice["layout"]
    old_key: bytes = practice["key"]
    interim_key = generate_key()
    crash(layout, old_key, interim_key)

    if rolls_forward:
        before = file_digests(layout.data_dir)
        with pytest.raises(DatabaseProblem, match="key rotation was interrupted"):
            open_database(layout)
        assert_one_line_failure(run_hearth(layout, "migrate"), INTERRUPTED)
        assert file_digests(layout.data_dir) == before
    else:
        # Before the commit point the originals are untouched and still in use.
        opened = run_hearth(layout, "migrate")
        assert opened.returncode == 0, opened.stderr
        assert snapshot(layout.database, old_key) == practice["database"]
    release_database()

    result = run_hearth(layout, "keys", "rotate")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:len(recovery)] == recovery
    assert lines[-1] == "the database key is rotated; back up the new key file now"

    final_key = assert_practice_intact(practice, command="migrate")
    assert final_key not in (old_key, interim_key)
