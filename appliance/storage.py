"""The encrypted database: SQLCipher 4 through peewee, opened with a raw 256-bit key.

Models bind to the unbound `db` object; a process unlocks it once at start-up:

    from appliance.storage import db, open_database
    open_database(layout)          # loads the key, probes, checks the schema
    with db.connection_context(): ...

A raw key skips SQLCipher's key derivation, so a connection opens in well under
a millisecond and per-request connections stay cheap. SQLite-specific SQL lives
here and in the migrations, nowhere else.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from typing import Any

import peewee
from sqlcipher3 import dbapi2 as sqlcipher

from appliance import HearthError
from appliance.keys import DATABASE_KEY, load_key
from appliance.paths import Layout

SQLITE_HEADER = b"SQLite format 3\x00"
PAGE_SIZE = 4096

# synchronous=FULL: in WAL mode NORMAL may lose the last few commits on power
# loss (the WAL is not fsynced at each commit). A signed note or a posted
# payment that the user saw succeed must survive a power cut, and our write
# rate (people typing) is far below what one fsync per commit allows.
# WAL is a property of the file: set once when the database is opened (probe),
# not on every connection.
PRAGMAS: list[tuple[str, Any]] = [
    ("synchronous", "full"),
    ("foreign_keys", 1),
    # Keep temporary tables and sort spills in memory, never in plaintext files.
    ("temp_store", "memory"),
    ("cache_size", -8000),  # 8 MB of decrypted pages per connection
]


class DatabaseProblem(HearthError):
    """The database cannot be used as it is; the message says why and what to do."""


class DatabaseMissing(DatabaseProblem):
    pass


class WrongKey(DatabaseProblem):
    pass


class DatabaseDamaged(DatabaseProblem):
    pass


class NotEncrypted(DatabaseProblem):
    pass


def key_pragma(key: bytes) -> str:
    if len(key) != 32:
        # An empty key would make SQLCipher write a plaintext file.
        raise DatabaseProblem("refusing to use a database key that is not 256 bits")
    return f"PRAGMA key = \"x'{key.hex()}'\""


BUSY_WAIT_LIMIT = 5.0  # seconds a writer waits for another's lock before giving up


def wait_for_lock(attempt: int) -> bool:
    """SQLite's busy handler: wait a little and try again, for up to BUSY_WAIT_LIMIT.

    SQLite's own handler (busy_timeout) sleeps 1, 2, 5, 10 ... 100 ms between
    tries, so under a steady trickle of small writes (an audit entry per page)
    a request can sleep tens of milliseconds for a lock held for one. Short,
    slowly growing naps keep waits close to the time the lock is really held.
    """
    nap = min(0.0002 * (attempt + 1), 0.002)
    if attempt * 0.002 > BUSY_WAIT_LIMIT:
        return False
    time.sleep(nap)
    return True


def connect_raw(path: Path, key: bytes, create: bool = False) -> sqlcipher.Connection:
    """A bare sqlcipher3 connection, keyed; used by storage, rotation and the queue."""
    mode = "rwc" if create else "rw"
    new_file = create and not path.exists()
    if new_file:
        # Create the file 0600 ourselves: SQLite would use the umask, and its -wal
        # and -shm files copy the database file's mode.
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    conn = sqlcipher.connect(
        f"file:{path}?mode={mode}", uri=True, isolation_level=None, check_same_thread=False
    )
    try:
        # SQLCipher logs decryption failures to stderr; we report them ourselves.
        conn.execute("PRAGMA cipher_log_level = NONE")
        conn.execute(key_pragma(key))
        conn.set_busy_handler(wait_for_lock)
        if new_file:
            conn.execute("PRAGMA journal_mode = wal")  # a property of the file from now on
    except BaseException:
        conn.close()
        raise
    return conn


class HearthDatabase(peewee.SqliteDatabase):
    """peewee's SQLite database over sqlcipher3, keyed with a raw key."""

    def __init__(self, database: str | None, **kwargs: Any) -> None:
        self._key: bytes | None = None
        self._create = False
        self.layout: Layout | None = None  # set by open_database; the audit chain finds its key
        kwargs.setdefault("pragmas", PRAGMAS)
        # Transactions take the write lock when they begin. A deferred one that
        # reads, then writes after another connection has written, fails at once
        # with "database is locked" instead of waiting in the busy handler.
        kwargs.setdefault("lock_type", "IMMEDIATE")
        super().__init__(database, **kwargs)

    def unlock(self, path: Path, key: bytes, create: bool = False) -> None:
        if not self.is_closed():
            self.close()
        key_pragma(key)  # validates the length before anything touches the file
        self._key = key
        self.layout = None
        self._create = create
        self.init(str(path), pragmas=PRAGMAS, timeout=5)

    def _connect(self) -> Any:
        if self._key is None or self.database is None:
            raise DatabaseProblem("the database is locked: no key has been loaded")
        conn = connect_raw(Path(self.database), self._key, create=self._create)
        try:
            self._add_conn_hooks(conn)  # type: ignore[attr-defined]
        except sqlcipher.DatabaseError as exc:
            conn.close()
            raise classify_error(Path(self.database), exc) from exc
        except BaseException:
            conn.close()
            raise
        return conn


db = HearthDatabase(None)


class Prepared:
    """A peewee query compiled to SQL once per process, then run with fresh values.

    peewee spends a few hundred microseconds turning a query into SQL, far more
    than SQLite spends running a primary-key lookup. The handful of queries every
    request runs (its session, its account, the client list) pay that once:

        SESSION = Prepared(lambda token, app: WebSession.select().where(...))
        row = SESSION.first(token_hash, "staff")

    The factory's arguments must be the query's parameters, in order; the first
    run checks that, so a query whose SQL depends on the values cannot slip in.
    """

    def __init__(self, factory: Any) -> None:
        self._factory = factory
        self._compiled: tuple[Any, str] | None = None

    def _sql(self, values: tuple[Any, ...]) -> tuple[Any, str]:
        if self._compiled is None:
            query = self._factory(*values)
            sql, params = query.sql()
            if list(params) != list(values):
                raise ValueError(f"prepared query parameters {params!r} differ from {values!r}")
            self._compiled = (query, sql)
        return self._compiled

    def run(self, *values: Any) -> Any:
        """Rows of a SELECT, as the query would give them (models, dicts, tuples)."""
        query, sql = self._sql(values)
        database = query.model._meta.database  # the model's binding now, as peewee would
        return query._get_cursor_wrapper(database.execute_sql(sql, values))

    def execute(self, *values: Any) -> Any:
        """Run an INSERT, UPDATE or DELETE; returns the cursor (lastrowid, rowcount)."""
        query, sql = self._sql(values)
        return query.model._meta.database.execute_sql(sql, values)

    def first(self, *values: Any) -> Any:
        for row in self.run(*values):
            return row
        return None


def classify_error(path: Path, exc: Exception) -> DatabaseProblem:
    """Turn SQLite's terse errors into one line an administrator can act on."""
    message = str(exc)
    if "not a database" in message:
        try:
            with path.open("rb") as handle:
                header = handle.read(len(SQLITE_HEADER))
        except OSError:
            header = b""
        if header == SQLITE_HEADER:
            return NotEncrypted(
                f"{path} is a plain, unencrypted SQLite file; Hearth refuses to use it"
            )
        return WrongKey(
            "the database key does not match this database "
            f"({path}; if the key is right, the start of the file is damaged: restore a backup)"
        )
    if "malformed" in message or "corrupt" in message:
        return DatabaseDamaged(
            f"the database {path} is damaged ({message}); run 'hearth check' and restore a backup"
        )
    if "unable to open" in message:
        return DatabaseMissing(f"cannot open the database {path}: {message}")
    return DatabaseProblem(f"the database {path} cannot be used: {message}")


_process_lock: int | None = None


def hold_shared_lock(layout: Layout) -> None:
    """Hold a shared lock for the life of this process.

    Key rotation takes the lock exclusively, so it can tell whether any app or
    worker still has the database open.
    """
    global _process_lock
    if _process_lock is not None:
        return
    layout.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(layout.lock_file, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_SH)
    _process_lock = fd


def release_shared_lock() -> None:
    global _process_lock
    if _process_lock is not None:
        os.close(_process_lock)
        _process_lock = None


def open_database(layout: Layout, create: bool = False,
                  check_schema: bool = True) -> HearthDatabase:
    """Unlock `db` for this process and prove the key fits.

    Without `create`, a missing file is an error: SQLite would otherwise make a
    new empty database in its place.
    """
    path = layout.database
    if not create and not path.exists():
        raise DatabaseMissing(
            f"there is no database at {path}; run 'hearth init' for a new installation "
            "or 'hearth restore' to bring back a backup"
        )
    if (layout.key_dir / (DATABASE_KEY + ".new")).exists():
        raise DatabaseProblem(
            "a key rotation was interrupted; run 'hearth keys rotate' to finish it"
        )
    key = load_key(layout, DATABASE_KEY)
    hold_shared_lock(layout)
    db.unlock(path, key, create=create)
    db.layout = layout
    probe(db, path)
    if check_schema:
        from appliance.migrations import require_current_schema

        require_current_schema(db)
    return db


def probe(database: HearthDatabase, path: Path) -> None:
    try:
        with database.connection_context():
            database.execute_sql("SELECT count(*) FROM sqlite_master").fetchone()
            mode = database.execute_sql("PRAGMA journal_mode").fetchone()[0]
            if mode != "wal":  # e.g. a file restored by hand from a rollback-journal copy
                database.execute_sql("PRAGMA journal_mode = wal")
    except DatabaseProblem:
        raise
    except (sqlcipher.DatabaseError, peewee.DatabaseError) as exc:
        raise classify_error(path, exc) from exc


def end_of_request(database: HearthDatabase) -> None:
    """Keep this thread's connection for its next request; undo a transaction an error left.

    An open connection keeps its parsed schema and its cache of decrypted pages, so
    a request pays neither the open nor the decryption of pages it read before.
    SQLite empties that cache by itself when another connection writes, so it never
    serves stale pages. Key rotation needs every process stopped (the shared lock).
    """
    if database.is_closed():
        return
    connection = database.connection()
    if connection.in_transaction:
        connection.rollback()


def integrity_problems(conn: Any) -> list[str]:
    """Run SQLCipher's page HMAC check and SQLite's structural check."""
    problems: list[str] = []
    for pragma in ("cipher_integrity_check", "integrity_check"):
        try:
            rows = [row[0] for row in conn.execute(f"PRAGMA {pragma}").fetchall()]
        except sqlcipher.DatabaseError as exc:
            # integrity_check stops at a page it cannot decrypt; keep what the
            # HMAC check already found rather than losing it to the exception.
            rows = [str(exc)]
        problems.extend(f"{pragma}: {row}" for row in rows if row != "ok")
    return problems
