"""Audit: what sealing an entry into the chain costs, and how fast the chain verifies.

Figures:

- append_request_ratio   chain.append (what record() calls) against a plain INSERT of the
                         same row into a table of the same shape and indexes without a mac,
                         each in its own transaction as in a request (so each commits and
                         syncs); same connection, alternating rounds (target <= 1.2)
- append_batch_ratio     the same, 1,000 entries to one transaction: no commit to hide
                         behind, so this is the chain's own cost (head lookup + HMAC);
                         held to the same target
- verify_1m_s            `verify()` over ENTRIES sealed entries (bench/audit_data.py
                         builds them with the real chain code; only the walk is timed;
                         target <= 10 s on 2 cores)
- verify_rate            entries verified per second (no target)
- viewer_*               the console viewer's queries over the same trail
                         (bench/audit_viewer.py)

HEARTH_BENCH_AUDIT_ENTRIES sets a smaller trail for a quick look.
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from appliance.paths import Layout
from bench.common import Figure, compare, fmt, initialize, note, ratio_figure

GROUP = "audit"
ENTRIES = int(os.environ.get("HEARTH_BENCH_AUDIT_ENTRIES") or 1_000_000)
BATCH = 1000
VERIFY_ROUNDS = 3
ROW = ("2026-11-26 14:03:12.345678", "staff", 17, "clinician", "view", "client", 1234, 1234,
       "10.0.1.23", "5f0c2a9e1b7d4c36", "success")

PLAIN_TABLE = (
    'CREATE TABLE bench_plain_entry ("id" INTEGER NOT NULL PRIMARY KEY, "occurred_at" '
    'DATETIME NOT NULL, "actor_kind" VARCHAR(10) NOT NULL, "actor_id" INTEGER, "actor_role" '
    'VARCHAR(60) NOT NULL, "action" VARCHAR(40) NOT NULL, "object_type" VARCHAR(40) NOT NULL, '
    '"object_id" INTEGER, "client_id" INTEGER, "source_address" VARCHAR(64) NOT NULL, '
    '"request_id" VARCHAR(40) NOT NULL, "outcome" VARCHAR(20) NOT NULL)')
PLAIN_INDEXES = [("client_id", "occurred_at"), ("actor_id", "occurred_at"), ("occurred_at",),
                 ("action", "occurred_at"), ("object_type", "object_id")]
PLAIN_INSERT = ("INSERT INTO bench_plain_entry (occurred_at, actor_kind, actor_id, actor_role, "
                "action, object_type, object_id, client_id, source_address, request_id, "
                "outcome) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")


def append_figures() -> list[Figure]:
    from appliance import storage
    from webapp.audit import chain

    root = Path(tempfile.mkdtemp(prefix="hearth-bench-append-"))
    layout = Layout(data_dir=root / "var", config_dir=root / "var")
    try:
        initialize(layout)
        db = storage.db
        with db.connection_context():
            db.execute_sql(PLAIN_TABLE)
            for columns in PLAIN_INDEXES:
                db.execute_sql(f"CREATE INDEX bench_plain_{'_'.join(columns)} ON "
                               f"bench_plain_entry ({', '.join(columns)})")
            chain.audit_key()

            def plain() -> None:
                db.execute_sql(PLAIN_INSERT, ROW)

            def sealed() -> None:
                chain.append(ROW)

            def plain_batch() -> None:
                with db.atomic():
                    for _ in range(BATCH):
                        db.execute_sql(PLAIN_INSERT, ROW)

            def sealed_batch() -> None:
                with db.atomic():
                    for _ in range(BATCH):
                        chain.append(ROW)

            note("append vs plain insert, one transaction each")
            request = compare(sealed, plain, rounds=15, min_batch_s=0.1)
            note(f"append vs plain insert, {BATCH:,} to a transaction")
            batch = compare(sealed_batch, plain_batch, rounds=11, min_batch_s=0.1)
            entries = db.execute_sql("SELECT count(*) FROM audit_entry").fetchone()[0]
        db.close()
    finally:
        storage.release_shared_lock()
        shutil.rmtree(root, ignore_errors=True)
    return [
        ratio_figure(GROUP, "append_request_ratio", request, "<= 1.2", "append", "plain insert",
                     note_text="own transaction each, synchronous=FULL"),
        ratio_figure(GROUP, "append_batch_ratio", batch, "<= 1.2", "append", "plain insert",
                     scale=1e6 / BATCH, raw_unit="us",
                     note_text=f"{BATCH:,} per transaction; {entries:,} entries appended"),
    ]


def verify_figures(layout: Layout) -> list[Figure]:
    from appliance import storage
    from appliance.keys import AUDIT_KEY, load_key
    from webapp.audit.verify import verify

    key = load_key(layout, AUDIT_KEY)
    storage.open_database(layout)
    times = []
    with storage.db.connection_context():
        for _ in range(VERIFY_ROUNDS):
            started = time.perf_counter()
            report = verify(storage.db, key, layout.audit_checkpoints)
            times.append(time.perf_counter() - started)
            if not report.ok or report.entries != ENTRIES:
                raise RuntimeError(f"the benchmark trail did not verify: {report.summary()}")
    storage.db.close()
    seconds = statistics.median(times)
    label = "1m" if ENTRIES == 1_000_000 else f"{ENTRIES}"
    return [
        Figure(GROUP, f"verify_{label}_s", seconds, "s",
               target="<= 10" if ENTRIES == 1_000_000 else None,
               detail=f"{ENTRIES:,} entries, median of {VERIFY_ROUNDS} "
                      f"({', '.join(fmt(t) for t in times)} s)"),
        Figure(GROUP, "verify_rate", ENTRIES / seconds, "entries/s"),
    ]


def run() -> list[Figure]:
    from bench.audit_data import trail_data_dir

    figures = append_figures()
    layout = trail_data_dir(ENTRIES)
    figures += verify_figures(layout)
    try:
        from bench.audit_viewer import viewer_figures
    except ModuleNotFoundError:
        note("no bench/audit_viewer.py: viewer figures skipped")
    else:
        figures += viewer_figures(layout)
    return figures
