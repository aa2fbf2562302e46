"""Storage: what SQLCipher costs the client pages, against plain SQLite with the same data.

One data dir with 10,000 demo clients; `sqlcipher_export` copies it into a plain
SQLite file (the one legitimate use of an empty key). The same peewee code paths
run against both, with the models bound to each database in turn:

- search_ratio       search_clients("ann"): name fragment (matches no demo client,
                     so it is the full LIKE scan, the worst case for a search)
- list_ratio         search_clients(""): page 1 of the default list
- dob_search_ratio   search_clients("03/15/1990"): birth date
- client_page_ratio  get_client(id, audit=False) + client_overview(client), for 64
                     different clients in turn

Each app thread keeps its connection between requests (appliance.storage.
end_of_request), so the headline `*_ratio` figures reuse one open connection,
whose page cache holds decrypted pages. SQLite empties that cache whenever
another connection has written since (an audit entry, a save), and a thread's
first request opens a fresh connection: the `*_ratio_cold` figures open, run and
close a connection every call, the worst case. The gap between the two is
SQLCipher decrypting each page it reads (about 30 us a page here).

search_clients writes an audit row whenever a query is given. We measure the
query part only: `record` is replaced by a no-op on both sides, because the
write is a WAL commit with an fsync (synchronous=FULL) whose disk time is the
same for both files and would only dilute the ratio. The audit write has its own
group (audit).

Two baselines, both with the same PRAGMAS and the models bound the same way:

- "plain" (the headline `*_ratio` figures): the same sqlcipher3 module, opened
  on the plaintext copy without a key. Same SQLite version, same query plans:
  the ratio is what encryption costs and nothing else.
- "stdlib" (`*_ratio_stdlib`): peewee's SqliteDatabase on the stdlib sqlite3
  module, as the issue first put it. That module wraps whatever SQLite the
  Python build links (3.40 on Debian 12 against sqlcipher3's 3.5x), whose
  planner can choose different indexes without ANALYZE statistics (it scans
  client_status for the birth-date search where 3.5x uses client_date_of_birth),
  so these ratios mix the engine version into the cipher cost. Kept for the
  record; judge the target on the "plain" ones.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import peewee

from bench.common import (
    Figure,
    compare,
    demo_data_dir,
    fmt,
    median_time,
    note,
    ratio_figure,
)

GROUP = "storage"
CLIENTS = 10_000
RATIO_TARGET = "<= 1.25"
OPEN_TARGET = "~1 ms"
NAME_FRAGMENT = "ann"
BIRTH_DATE = "03/15/1990"
PAGE_CLIENTS = 64


def export_plain_copy(encrypted: Path, key: bytes, plain: Path) -> None:
    """Write a plaintext copy of the whole database with SQLCipher's own exporter."""
    from appliance.storage import connect_raw

    conn = connect_raw(encrypted, key)
    try:
        # KEY '' makes the attached database plaintext: only ever for this baseline.
        conn.execute("ATTACH DATABASE ? AS plaintext KEY ''", (str(plain),))
        conn.execute("SELECT sqlcipher_export('plaintext')")
        conn.execute("DETACH DATABASE plaintext")
    finally:
        conn.close()
    with plain.open("rb") as handle:
        if handle.read(16) != b"SQLite format 3\x00":
            raise RuntimeError(f"{plain} is not a plain SQLite file")


class PlainSqlcipherDatabase(peewee.SqliteDatabase):
    """sqlcipher3 with no key on a plaintext file: HearthDatabase minus the encryption."""

    def _connect(self) -> Any:
        from sqlcipher3 import dbapi2 as sqlcipher

        conn = sqlcipher.connect(f"file:{self.database}?mode=rw", uri=True,
                                 isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA cipher_log_level = NONE")  # as connect_raw does
        self._add_conn_hooks(conn)  # type: ignore[attr-defined]
        return conn


def plain_database(path: Path) -> peewee.SqliteDatabase:
    """The "plain" baseline: the production PRAGMAS on the plaintext copy."""
    from appliance.storage import PRAGMAS

    return PlainSqlcipherDatabase(str(path), pragmas=PRAGMAS, timeout=5)


def table_counts(database: peewee.Database) -> dict[str, int]:
    with database.connection_context():
        names = [row[0] for row in database.execute_sql(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").fetchall()]
        return {name: database.execute_sql(f'SELECT count(*) FROM "{name}"').fetchone()[0]
                for name in names}


@contextlib.contextmanager
def no_audit() -> Iterator[None]:
    """Measure the query part of search_clients: its audit write is a no-op on both sides."""
    from webapp.clients import service

    original = service.record
    service.record = lambda *args, **kwargs: None  # type: ignore[assignment]
    try:
        yield
    finally:
        service.record = original


def bound(database: peewee.Database) -> Callable[[], contextlib.AbstractContextManager[Any]]:
    from webapp.models import ALL_MODELS

    return lambda: database.bind_ctx(ALL_MODELS)


def per_request(database: peewee.Database, fn: Callable[[], Any]) -> Callable[[], Any]:
    """Open a connection, run, close: what one request does in the apps."""

    def call() -> Any:
        database.connect()
        try:
            return fn()
        finally:
            database.close()

    return call


def front_desk() -> Any:
    """The list as the front desk sees it: every client (no caseload scoping)."""
    from webapp.core.models import StaffUser

    return StaffUser(id=0, username="bench", roles="front_desk")


def workloads(page_ids: list[int]) -> dict[str, Callable[[], Any]]:
    from webapp.clients.service import client_overview, get_client, search_clients

    cursor = {"next": 0}
    desk = front_desk()

    def client_page() -> Any:
        client_id = page_ids[cursor["next"] % len(page_ids)]
        cursor["next"] += 1
        client = get_client(desk, client_id, audit=False)
        return client, client_overview(client)

    return {
        "search": lambda: search_clients(desk, NAME_FRAGMENT),
        "list": lambda: search_clients(desk, ""),
        "dob_search": lambda: search_clients(desk, BIRTH_DATE),
        "client_page": client_page,
    }


def same_results(encrypted: peewee.Database, plain: peewee.Database,
                 page_ids: list[int]) -> None:
    """Both databases must answer every workload identically, or the ratio means nothing."""
    from webapp.clients.service import client_overview, get_client, search_clients

    desk = front_desk()

    def answers() -> list[Any]:
        out: list[Any] = [search_clients(desk, q).rows for q in (NAME_FRAGMENT, "", BIRTH_DATE)]
        for client_id in page_ids[:5]:
            client = get_client(desk, client_id, audit=False)
            overview = client_overview(client)
            out.append((client.legal_name, [g.full_name for g in overview["guardians"]],
                        [p.member_id for p in overview["policies"]],
                        [c.username for c in overview["clinicians"]]))
        return out

    results = []
    for database in (encrypted, plain):
        with bound(database)(), database.connection_context():
            results.append(answers())
    if results[0] != results[1]:
        raise RuntimeError("SQLCipher and plain SQLite answered the workloads differently")


def run() -> list[Figure]:
    from appliance.keys import DATABASE_KEY, load_key
    from appliance.storage import PRAGMAS, db
    from webapp.clients.models import Client, Guardian, InsurancePolicy

    layout = demo_data_dir(CLIENTS)
    key = load_key(layout, DATABASE_KEY)
    plain_path = layout.data_dir / "plain-baseline.db"
    export_plain_copy(layout.database, key, plain_path)
    plain = plain_database(plain_path)
    stdlib = peewee.SqliteDatabase(str(plain_path), pragmas=PRAGMAS, timeout=5)
    try:
        counts = table_counts(db), table_counts(plain), table_counts(stdlib)
        if not counts[0] == counts[1] == counts[2]:
            raise RuntimeError(f"the plain copy differs: {counts}")
        with db.connection_context():
            engine = db.execute_sql("SELECT sqlite_version()").fetchone()[0]
        note(f"plain copy has the same {len(counts[0])} tables and row counts "
             f"(clients: {counts[0]['client']:,}); SQLite {engine} in sqlcipher3, "
             f"{sqlite3.sqlite_version} in stdlib sqlite3")
        with bound(db)(), db.connection_context():
            # Clients whose page has something to show: a guardian or a policy.
            with_related = (Client.select(Client.id)
                            .where(Client.id.in_(Guardian.select(Guardian.client))
                                   | Client.id.in_(InsurancePolicy.select(InsurancePolicy.client)))
                            .order_by(Client.id))
            ids = [row.id for row in with_related]
        step = max(1, len(ids) // PAGE_CLIENTS)
        page_ids = ids[::step][:PAGE_CLIENTS]
        with no_audit():
            same_results(db, plain, page_ids)
            same_results(db, stdlib, page_ids)
        return measure(db, plain, stdlib, page_ids, key)
    finally:
        for database in (plain, stdlib):
            if not database.is_closed():
                database.close()
        if not db.is_closed():
            db.close()


def measure(encrypted: peewee.Database, plain: peewee.Database, stdlib: peewee.Database,
            page_ids: list[int], key: bytes) -> list[Figure]:
    figures = [connection_open(encrypted, plain, stdlib, key)]
    labels = {"search": f"search_clients({NAME_FRAGMENT!r})", "list": "search_clients('') page 1",
              "dob_search": f"search_clients({BIRTH_DATE!r})",
              "client_page": "get_client + client_overview"}
    with no_audit():
        for name, label in labels.items():
            # Each side gets its own rotation through page_ids, so both read the same clients.
            ours, theirs = workloads(page_ids)[name], workloads(page_ids)[name]
            note(f"{name}: the connection a request keeps (warm)")
            encrypted.connect()
            plain.connect()
            try:
                result = compare(ours, theirs,
                                 subject_ctx=bound(encrypted), baseline_ctx=bound(plain))
            finally:
                encrypted.close()
                plain.close()
            figures.append(ratio_figure(GROUP, f"{name}_ratio", result, RATIO_TARGET,
                                        "sqlcipher", "plain",
                                        note_text=f"{label}, the thread's kept connection"))
            note(f"{name}: fresh connection (cold cache)")
            result = compare(per_request(encrypted, ours), per_request(plain, theirs),
                             subject_ctx=bound(encrypted), baseline_ctx=bound(plain))
            figures.append(ratio_figure(GROUP, f"{name}_ratio_cold", result, RATIO_TARGET,
                                        "sqlcipher", "plain",
                                        note_text=f"{label}, fresh connection, empty cache"))
            note(f"{name}: fresh connection, stdlib sqlite3 baseline")
            result = compare(per_request(encrypted, workloads(page_ids)[name]),
                             per_request(stdlib, workloads(page_ids)[name]),
                             subject_ctx=bound(encrypted), baseline_ctx=bound(stdlib))
            figures.append(ratio_figure(
                GROUP, f"{name}_ratio_stdlib", result, RATIO_TARGET, "sqlcipher", "stdlib",
                note_text=f"{label}, fresh connection, stdlib SQLite {sqlite3.sqlite_version}"))
    return figures


def connection_open(encrypted: peewee.Database, plain: peewee.Database,
                    stdlib: peewee.Database, key: bytes) -> Figure:
    """A fresh connection: open with the raw key, the PRAGMAS, close.

    Measured on the driver directly. A thread pays it once: it keeps its
    connection afterwards. The raw key skips key derivation; the first PRAGMA
    reads, and so decrypts, page 1.
    """
    import sqlite3

    from sqlcipher3 import dbapi2 as sqlcipher

    from appliance.storage import PRAGMAS, connect_raw

    note("connection open")
    secret, clear = Path(str(encrypted.database)), Path(str(plain.database))

    def fresh(opener: Callable[[], Any]) -> Callable[[], None]:
        def call() -> None:
            conn = opener()
            for name, value in PRAGMAS:
                conn.execute(f"PRAGMA {name} = {value}")
            conn.close()

        return call

    def open_plain() -> Any:
        conn = sqlcipher.connect(f"file:{clear}?mode=rw", uri=True, isolation_level=None)
        conn.execute("PRAGMA cipher_log_level = NONE")
        return conn

    result = compare(fresh(lambda: connect_raw(secret, key)), fresh(open_plain))
    subject_ms, baseline_ms = result.subject_s * 1000, result.baseline_s * 1000
    stdlib_ms = median_time(fresh(lambda: sqlite3.connect(
        f"file:{clear}?mode=rw", uri=True, isolation_level=None))) * 1000
    # For the detail line only: the keyed open without the PRAGMAS (nothing is read yet).
    bare = median_time(lambda: connect_raw(secret, key).close()) * 1000
    return Figure(GROUP, "connection_open", subject_ms, "ms", baseline=baseline_ms,
                  ratio=result.ratio, target=OPEN_TARGET, subject=subject_ms, raw_unit="ms",
                  detail=(f"fresh connection, sqlcipher raw key + PRAGMAS + close "
                          f"{fmt(subject_ms)} ms vs plain {fmt(baseline_ms)} ms "
                          f"(ratio {fmt(result.ratio)}), stdlib {fmt(stdlib_ms)} ms; "
                          f"keyed open + close without PRAGMAS {fmt(bare)} ms"))
