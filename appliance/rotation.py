"""`hearth keys rotate`: re-key the database and the queue without ever risking them.

1. With every Hearth process stopped (an exclusive lock proves it), export each
   file to `<file>.rekey` under a new key and verify the copy: it opens with the
   new key, passes both integrity checks and holds the same rows.
2. Write the new key to `db.key.new`. From here the rotation is committed.
3. Move each `.rekey` copy over its original, then `db.key.new` over `db.key`.

A crash before step 2 leaves the originals untouched and `.rekey` leftovers that
the next run deletes; a crash after it is finished by the next run.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from appliance import HearthError
from appliance.fileutil import fsync_dir, replace_file, write_new_file
from appliance.keys import DATABASE_KEY, credential_path, generate_key, key_path, load_key
from appliance.paths import Layout
from appliance.storage import classify_error, connect_raw, integrity_problems, key_pragma


class RotationError(HearthError):
    pass


def _files(layout: Layout) -> list[Path]:
    return [path for path in (layout.database, layout.queue) if path.exists()]


def _pending_key(layout: Layout) -> Path:
    return key_path(layout, DATABASE_KEY + ".new")


def _exclusive_lock(layout: Layout) -> int:
    fd = os.open(layout.lock_file, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        os.close(fd)
        raise RotationError(
            "Hearth is running (an app or the worker has the database open); stop the "
            "staff app, portal and worker before rotating the key"
        ) from exc
    return fd


def finish_interrupted(layout: Layout) -> list[str]:
    """Roll an interrupted rotation back (before commit) or forward (after)."""
    done = []
    pending = _pending_key(layout)
    for path in (layout.database, layout.queue):
        copy = path.with_name(path.name + ".rekey")
        if not copy.exists():
            continue
        if pending.exists():
            _swap_in(copy, path)
            done.append(f"finished re-keying {path.name}")
        else:
            copy.unlink()
            done.append(f"removed unfinished copy {copy.name}")
    if pending.exists():
        os.replace(pending, key_path(layout, DATABASE_KEY))
        fsync_dir(pending.parent)
        done.append("installed the new key from an interrupted rotation")
    return done


def _swap_in(copy: Path, original: Path) -> None:
    # The original's WAL was checkpointed and truncated under the exclusive
    # lock; stale -wal/-shm files must not be replayed against the new file.
    for suffix in ("-wal", "-shm"):
        Path(str(original) + suffix).unlink(missing_ok=True)
    os.replace(copy, original)
    fsync_dir(original.parent)


def _row_counts(conn: object) -> dict[str, int]:
    cursor = conn.execute(  # type: ignore[attr-defined]
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    names = [row[0] for row in cursor.fetchall()]
    return {name: conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]  # type: ignore[attr-defined]
            for name in names}


def _export(path: Path, old_key: bytes, new_key: bytes) -> Path:
    copy = path.with_name(path.name + ".rekey")
    copy.unlink(missing_ok=True)
    source = connect_raw(path, old_key)
    try:
        source.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        before = _row_counts(source)
        source.execute(f"ATTACH DATABASE ? AS rekeyed KEY \"x'{new_key.hex()}'\"", (str(copy),))
        source.execute("SELECT sqlcipher_export('rekeyed')")
        source.execute("DETACH DATABASE rekeyed")
        source.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except Exception as exc:
        copy.unlink(missing_ok=True)
        raise classify_error(path, exc) from exc
    finally:
        source.close()
    os.chmod(copy, 0o600)
    target = connect_raw(copy, new_key)
    try:
        target.execute("PRAGMA journal_mode = wal")
        problems = integrity_problems(target)
        after = _row_counts(target)
    finally:
        target.close()
    if problems or after != before:
        copy.unlink(missing_ok=True)
        raise RotationError(f"the re-keyed copy of {path.name} did not verify; nothing changed")
    with copy.open("rb") as handle:
        os.fsync(handle.fileno())
    return copy


def rotate_database_key(layout: Layout) -> Iterator[str]:
    if credential_path(DATABASE_KEY) is not None:
        raise RotationError("the database key comes from a systemd credential; rotate it "
                            "with the provisioning playbook instead")
    lock = _exclusive_lock(layout)
    try:
        yield from finish_interrupted(layout)
        old_key = load_key(layout, DATABASE_KEY)
        new_key = generate_key()
        key_pragma(new_key)
        copies = [(path, _export(path, old_key, new_key)) for path in _files(layout)]
        if not copies:
            raise RotationError(f"there is no database at {layout.database} to re-key")
        for path, _ in copies:
            yield f"copied and verified {path.name} under the new key"
        write_new_file(_pending_key(layout), new_key.hex().encode() + b"\n", mode=0o600)
        for path, copy in copies:
            _swap_in(copy, path)
        replace_file(key_path(layout, DATABASE_KEY), new_key.hex().encode() + b"\n")
        _pending_key(layout).unlink()
        fsync_dir(layout.key_dir)
        yield "the database key is rotated; back up the new key file now"
    finally:
        os.close(lock)
