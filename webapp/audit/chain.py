"""The keyed hash chain over audit entries: how an entry is sealed, and how the chain is read.

Each entry's `mac` is

    HMAC-SHA256(audit key, canonical(previous entry's mac, entry))   in lower-case hex

where `canonical` is the JSON array (RFC 8259, as Python's json module writes it
with ensure_ascii and no white space)

    [previous mac, id, occurred_at, actor_kind, actor_id, actor_role, action,
     object_type, object_id, client_id, source_address, request_id, outcome]

of the values exactly as stored (text as text, integers as integers, NULL as
null), UTF-8 encoded. JSON types and quoting make it unambiguous, and the id is
inside, so renumbering entries breaks the chain as surely as editing them. The
first entry chains from GENESIS; after pruning, the first kept entry chains from
the "prune" checkpoint's mac (webapp.audit.checkpoints).

The key (audit.key, or its systemd credential) lives outside the database, so
someone who can write the database cannot re-seal what they changed. It is read
once per process, from the layout the database was opened with.

Appending reads the chain head and inserts in one transaction that holds the
write lock (our transactions begin IMMEDIATE), so appends from every process
serialise. A SQLite function doing the same inside one INSERT ... SELECT was
measured and is slower: the callback's argument conversion, and SQLite copying
a SELECT over the table it inserts into through a temporary table.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from typing import Any

import peewee
from sqlcipher3 import dbapi2 as sqlcipher

from appliance import HearthError
from appliance.keys import AUDIT_KEY, load_key
from appliance.paths import Layout
from appliance.storage import db

GENESIS = "0" * 64  # what the first entry of a chain chains from

# The entry's fields in canonical order (everything but the mac).
FIELDS = ("id", "occurred_at", "actor_kind", "actor_id", "actor_role", "action",
          "object_type", "object_id", "client_id", "source_address", "request_id", "outcome")
COLUMNS = ", ".join(FIELDS)

_json = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"), allow_nan=False,
                        check_circular=False)
# The C encoder behind json.dumps, called directly: half the cost per entry, same bytes.
_c_encoder = getattr(json.encoder, "c_make_encoder", None)
_fast = (_c_encoder(None, _json.default, json.encoder.encode_basestring_ascii, None, ":", ",",
                    False, False, False) if _c_encoder else None)


class AuditKeyError(HearthError):
    """The audit key cannot be found or read: nothing is recorded without it."""


def canonical(previous_mac: Any, row: Sequence[Any]) -> bytes:
    """The bytes the mac covers: `row` holds FIELDS' values as stored.

    Raises ValueError or TypeError for a value no entry can hold (a float NaN, a blob).
    """
    values = [previous_mac, *row]
    if _fast is None:
        return _json.encode(values).encode("ascii")
    return "".join(_fast(values, 0)).encode("ascii")


class Signer:
    """HMAC-SHA256 (RFC 2104) with the key's inner and outer pads hashed once.

    The same result as hmac.new(key, message, "sha256"), for a third of the cost
    per message: 1,000,000 entries are verified in seconds.
    """

    def __init__(self, key: bytes) -> None:
        padded = (hashlib.sha256(key).digest() if len(key) > 64 else key).ljust(64, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in padded))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in padded))

    def hexdigest(self, message: bytes) -> str:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()


def signer(key: bytes) -> Signer:
    return Signer(key)


def seal(base: Signer, previous_mac: Any, row: Sequence[Any]) -> str:
    """The mac an entry with these values must carry after `previous_mac`."""
    return base.hexdigest(canonical(previous_mac, row))


# -- the key -------------------------------------------------------------------

_keys: dict[Layout, bytes] = {}
_active: list[Any] = [None, b"", None]  # [layout, its key, the key's Signer]


def active_signer() -> Signer:
    """The Signer for this process's audit key (loading the key the first time)."""
    if db.layout is None or db.layout is not _active[0]:
        audit_key()
    base: Signer = _active[2]
    return base


def audit_key() -> bytes:
    """The audit key for the database this process opened; read once per process."""
    layout = db.layout
    if layout is None:
        raise AuditKeyError("the audit trail has no key: the database was not opened with "
                            "open_database(layout), so nothing can be recorded")
    key = _keys.get(layout)
    if key is None:
        key = load_key(layout, AUDIT_KEY)
        _keys[layout] = key
    if _active[0] is not layout or _active[1] is not key:
        _active[:] = [layout, key, signer(key)]
    return key


def forget_keys() -> None:
    """Drop cached keys (a test that replaces a key file in-process)."""
    _keys.clear()
    _active[:] = [None, b"", None]


# -- appending -----------------------------------------------------------------

_HEAD = "SELECT id, mac FROM audit_entry ORDER BY id DESC LIMIT 1"
_PRUNED_HEAD = ("SELECT entry_id, mac FROM audit_checkpoint WHERE kind = 'prune' "
                "ORDER BY entry_id DESC LIMIT 1")
_INSERT = (f"INSERT INTO audit_entry ({COLUMNS}, mac) "
           f"VALUES ({', '.join('?' * (len(FIELDS) + 1))})")


def append(values: Sequence[Any]) -> int:
    """Insert one sealed entry (FIELDS' values after the id, as they will be stored).

    Inside the caller's transaction when there is one (it holds the write lock, or
    SQLite refuses the insert rather than let two entries share a predecessor),
    else in a transaction of its own.
    """
    base = active_signer()
    connection = db.connection()
    if connection.in_transaction:
        return _append(connection, base, values)
    with db.atomic():
        return _append(connection, base, values)


def _append(connection: Any, base: Signer, values: Sequence[Any]) -> int:
    head = connection.execute(_HEAD).fetchone() or connection.execute(_PRUNED_HEAD).fetchone()
    entry_id, previous = (int(head[0]) + 1, head[1]) if head else (1, GENESIS)
    row = (entry_id, *values)
    connection.execute(_INSERT, (*row, seal(base, previous, row)))
    return entry_id


# -- reading -------------------------------------------------------------------

def chain_start(database: Any) -> tuple[int, str, int]:
    """(entry id, mac, entry count) the kept chain starts after: the newest prune
    checkpoint, or the genesis. The caller checks the checkpoint's signature."""
    row = database.execute_sql(
        "SELECT entry_id, mac, entry_count FROM audit_checkpoint WHERE kind = 'prune' "
        "ORDER BY entry_id DESC LIMIT 1").fetchone()
    return (int(row[0]), str(row[1]), int(row[2])) if row else (0, GENESIS, 0)


def rows_after(database: Any, after_id: int, until_id: int | None = None,
               batch: int = 20_000) -> Iterator[list[tuple[Any, ...]]]:
    """Entries (FIELDS..., mac) in id order, a batch at a time, by keyset paging."""
    bound = "" if until_id is None else f" AND id <= {int(until_id)}"
    while True:
        rows = database.execute_sql(
            f"SELECT {COLUMNS}, mac FROM audit_entry WHERE id > ?{bound} "
            "ORDER BY id LIMIT ?", (after_id, batch)).fetchall()
        if not rows:
            return
        yield rows
        after_id = rows[-1][0]


def walk(database: Any, base: Signer, after_id: int, previous: str,
         until_id: int | None = None, batch: int = 20_000) -> Iterator[tuple[int, str, bool]]:
    """(id, mac, whether the mac follows from the previous entry's) for each entry after
    `after_id`, in id order.

    Fast path: SQLite writes each entry's JSON array itself (json_array), one string
    per row instead of twelve Python values. For text with no escapes and only ASCII
    (every entry Hearth writes) that string is byte for byte the canonical form; any
    other row, or a database whose JSON functions refuse a value, takes the portable
    path. A fast-path match cannot be false: equal text means equal values.
    """
    bound = "" if until_id is None else f" AND id <= {int(until_id)}"
    fast_sql = (f"SELECT id, json_array({COLUMNS}), mac FROM audit_entry WHERE id > ?{bound} "
                "ORDER BY id LIMIT ?")
    fast = True
    hexdigest = base.hexdigest
    while True:
        if fast:
            try:
                rows = database.execute_sql(fast_sql, (after_id, batch)).fetchall()
            except (peewee.DatabaseError, sqlcipher.DatabaseError):
                fast = False  # e.g. a blob planted in a column: go on the slow way
                continue
            if not rows:
                return
            for entry_id, text, mac in rows:
                if text.isascii() and "\\" not in text:
                    good = hexdigest(f'["{previous}",{text[1:]}'.encode()) == mac
                else:
                    good = _links(database, base, entry_id, previous, mac)
                yield entry_id, mac, good
                previous = mac
            after_id = rows[-1][0]
        else:
            for rows in rows_after(database, after_id, until_id, batch):
                for row in rows:
                    try:
                        good = hexdigest(canonical(previous, row[:12])) == row[12]
                    except (TypeError, ValueError):
                        good = False
                    yield row[0], row[12], good
                    previous = row[12]
            return


def _links(database: Any, base: Signer, entry_id: int, previous: str, mac: str) -> bool:
    row = database.execute_sql(f"SELECT {COLUMNS} FROM audit_entry WHERE id = ?",
                               (entry_id,)).fetchone()
    try:
        return bool(base.hexdigest(canonical(previous, row)) == mac)
    except (TypeError, ValueError):
        return False


def seal_unsealed(database: Any, key: bytes) -> int:
    """Seal entries written before the chain existed (mac ""), in id order; idempotent.

    Only entries before the first sealed one are sealed: an empty mac after it is
    a blanked mac, which verification must report, not repair.
    """
    base = signer(key)
    with database.atomic():
        first_sealed = database.execute_sql(
            "SELECT min(id) FROM audit_entry WHERE mac != ''").fetchone()[0]
        limit = "" if first_sealed is None else f" AND id < {int(first_sealed)}"
        rows = database.execute_sql(
            f"SELECT {COLUMNS} FROM audit_entry WHERE mac = ''{limit} ORDER BY id").fetchall()
        previous = chain_start(database)[1]
        updates = []
        for row in rows:
            previous = seal(base, previous, row)
            updates.append((previous, row[0]))
        if updates:
            database.cursor().executemany("UPDATE audit_entry SET mac = ? WHERE id = ?", updates)
    return len(updates)


def chain_has_begun(database: Any) -> bool:
    """Whether anything was sealed with an audit key (so a new key would break it)."""
    sealed = database.execute_sql(
        "SELECT 1 FROM audit_entry WHERE mac != '' LIMIT 1").fetchone()
    checkpoint = database.execute_sql("SELECT 1 FROM audit_checkpoint LIMIT 1").fetchone()
    return bool(sealed or checkpoint)


# -- for other packages: pruning (retention) and the last verification (console) ----

def prune_before(entry_id: int) -> Any:
    """Delete entries up to and including `entry_id`, leaving a signed "prune" checkpoint."""
    from webapp.audit.checkpoints import prune_before as prune

    return prune(entry_id)


def last_verification(layout: Layout) -> dict[str, Any] | None:
    from webapp.audit.checkpoints import last_verification as last

    return last(layout)
