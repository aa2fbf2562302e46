"""Checkpoints: the chain head written down where someone who edits the database cannot reach.

    write_checkpoint("hourly")   # the Huey task; "backup" from the backup job, "manual" from
                                 # `hearth audit checkpoint`
    prune_before(entry_id)       # retention: drop old entries, keep a signed "prune" checkpoint

A checkpoint is (kind, entry_id, mac, entry_count, created_at) and its signature,
HMAC-SHA256 with the audit key over "kind|entry_id|mac|entry_count|created_at"
(created_at as stored, "YYYY-MM-DD HH:MM:SS.ffffff" UTC). Each one goes to three
places: a row in audit_checkpoint, the system log ("hearth audit checkpoint
entry=<id> count=<n> mac=<hex>"), and the checkpoint file (Layout.audit_checkpoints,
the last KEEP_IN_FILE of them, which backups carry). Removing entries from the end
of the trail then contradicts a checkpoint that is out of the attacker's reach.
"""

from __future__ import annotations

import hmac
import json
import logging
import logging.handlers
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from appliance import HearthError
from appliance.fileutil import replace_file
from appliance.paths import Layout
from appliance.storage import db
from webapp.audit import chain
from webapp.core.timeutil import utcnow

KINDS = ("hourly", "backup", "prune", "manual")
KEEP_IN_FILE = 50
FILE_FORMAT = 1


class CheckpointError(HearthError):
    pass


@dataclass(frozen=True)
class Checkpoint:
    kind: str
    entry_id: int
    mac: str
    entry_count: int
    created_at: str
    signature: str

    def signed_text(self) -> bytes:
        return (f"{self.kind}|{self.entry_id}|{self.mac}|{self.entry_count}|"
                f"{self.created_at}").encode()

    def signature_ok(self, key: bytes) -> bool:
        return hmac.compare_digest(sign(key, self), str(self.signature))


def sign(key: bytes, checkpoint: Checkpoint) -> str:
    return hmac.new(key, checkpoint.signed_text(), "sha256").hexdigest()


def stored_checkpoints(database: Any) -> list[tuple[int, Checkpoint]]:
    """(row id, checkpoint) for every row, values as stored."""
    rows = database.execute_sql(
        "SELECT id, kind, entry_id, mac, entry_count, created_at, signature "
        "FROM audit_checkpoint ORDER BY id").fetchall()
    return [(row[0], Checkpoint(str(row[1]), int(row[2]), str(row[3]), int(row[4]),
                                str(row[5]), str(row[6]))) for row in rows]


# -- the file and the log ---------------------------------------------------------

def read_file(path: Path) -> list[Checkpoint]:
    """The checkpoints in the file, oldest first; [] when there is no file yet.

    Raises CheckpointError when the file exists but cannot be read as ours.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return [Checkpoint(str(item["kind"]), int(item["entry_id"]), str(item["mac"]),
                           int(item["entry_count"]), str(item["created_at"]),
                           str(item["signature"])) for item in data["checkpoints"]]
    except FileNotFoundError:
        return []
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"the audit checkpoint file {path} cannot be read "
                              f"({type(exc).__name__}); it was damaged or edited") from exc


def _append_to_file(path: Path, checkpoint: Checkpoint) -> None:
    try:
        kept = read_file(path)
    except CheckpointError:
        # Keep the damaged file for whoever investigates; start a new one beside it.
        os.replace(path, path.with_name(f"{path.name}.damaged-{os.getpid()}"))
        kept = []
    kept = [*kept, checkpoint][-KEEP_IN_FILE:]
    body = {"format": FILE_FORMAT, "checkpoints": [asdict(item) for item in kept]}
    replace_file(path, (json.dumps(body, indent=1) + "\n").encode(), mode=0o600)


_logger: list[logging.Logger] = []


def journal() -> logging.Logger:
    """The system log (/dev/log, which journald also reads), else stderr."""
    if not _logger:
        logger = logging.getLogger("hearth.audit.checkpoint")
        logger.setLevel(logging.INFO)
        logger.propagate = False
        handler: logging.Handler
        if Path("/dev/log").exists():
            handler = logging.handlers.SysLogHandler(
                address="/dev/log", facility=logging.handlers.SysLogHandler.LOG_AUTHPRIV)
            handler.setFormatter(logging.Formatter("hearth: %(message)s"))
        else:
            handler = logging.StreamHandler(sys.stderr)
        logger.addHandler(handler)
        _logger.append(logger)
    return _logger[0]


def _publish(checkpoint: Checkpoint) -> None:
    journal().info("hearth audit checkpoint entry=%d count=%d mac=%s kind=%s",
                   checkpoint.entry_id, checkpoint.entry_count, checkpoint.mac, checkpoint.kind)


# -- writing ------------------------------------------------------------------------

def _head(database: Any) -> tuple[int, str, int]:
    """(entry id, mac, entries from the chain's start) of the newest entry."""
    start_id, start_mac, start_count = chain.chain_start(database)
    row = database.execute_sql(
        "SELECT id, mac FROM audit_entry ORDER BY id DESC LIMIT 1").fetchone()
    if row is None or int(row[0]) <= start_id:
        return start_id, start_mac, start_count
    count = database.execute_sql("SELECT count(*) FROM audit_entry WHERE id > ?",
                                 (start_id,)).fetchone()[0]
    return int(row[0]), str(row[1]), start_count + int(count)


def _store(database: Any, key: bytes, kind: str, entry_id: int, mac: str,
           entry_count: int) -> Checkpoint:
    unsigned = Checkpoint(kind, entry_id, mac, entry_count, str(utcnow()), "")
    checkpoint = Checkpoint(**{**asdict(unsigned), "signature": sign(key, unsigned)})
    database.execute_sql(
        "INSERT INTO audit_checkpoint (kind, entry_id, mac, entry_count, created_at, signature) "
        "VALUES (?, ?, ?, ?, ?, ?)", (kind, entry_id, mac, entry_count,
                                      checkpoint.created_at, checkpoint.signature))
    return checkpoint


def write_checkpoint(kind: str = "manual", layout: Layout | None = None) -> Checkpoint:
    """Record the chain head now: a signed row, a log line and the checkpoint file.

    The file is written while the database write lock is held, so two processes
    writing checkpoints at once cannot lose one another's line.
    """
    if kind not in KINDS or kind == "prune":
        raise CheckpointError(f"unknown checkpoint kind {kind!r}; use hourly, backup or manual")
    layout = layout or _layout()
    key = chain.audit_key()
    with db.atomic():
        checkpoint = _store(db, key, kind, *_head(db))
        _append_to_file(layout.audit_checkpoints, checkpoint)
    _publish(checkpoint)
    return checkpoint


def prune_before(entry_id: int, layout: Layout | None = None) -> Checkpoint:
    """Delete entries up to and including `entry_id`, after a signed "prune" checkpoint there.

    Refuses when the chain up to that entry does not verify: pruning must never
    take the evidence of tampering with it. The walk runs before the write lock is
    taken (it may read millions of entries); inside the lock the entry's mac and the
    count are checked again, so nothing changed in between.
    """
    from webapp.audit.verify import verify_prefix

    layout = layout or _layout()
    key = chain.audit_key()
    entry_id = int(entry_id)
    mac, count = verify_prefix(db, key, entry_id)
    with db.atomic():
        row = db.execute_sql("SELECT mac FROM audit_entry WHERE id = ?", (entry_id,)).fetchone()
        start_id, _, start_count = chain.chain_start(db)
        now_count = start_count + int(db.execute_sql(
            "SELECT count(*) FROM audit_entry WHERE id > ? AND id <= ?",
            (start_id, entry_id)).fetchone()[0])
        if row is None or row[0] != mac or now_count != count:
            raise CheckpointError(f"the audit trail changed while pruning up to entry {entry_id}; "
                                  "nothing was pruned: try again")
        checkpoint = _store(db, key, "prune", entry_id, mac, count)
        db.execute_sql("DELETE FROM audit_entry WHERE id <= ?", (entry_id,))
        _append_to_file(layout.audit_checkpoints, checkpoint)
    _publish(checkpoint)
    return checkpoint


def _layout() -> Layout:
    if db.layout is None:
        raise CheckpointError("the database was not opened with open_database(layout)")
    return db.layout


# -- the last verification, for the console -------------------------------------------

def record_verification(layout: Layout, result: dict[str, Any]) -> None:
    replace_file(layout.audit_verified, (json.dumps(result, indent=1) + "\n").encode(),
                 mode=0o600)


def last_verification(layout: Layout) -> dict[str, Any] | None:
    """The last `hearth audit verify` result: ok, verified_at (ISO, UTC), entries,
    first_broken_id, findings, head, last_checkpoint; None if never run or unreadable."""
    try:
        data = json.loads(layout.audit_verified.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
