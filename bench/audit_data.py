"""A large, realistic audit trail for the audit benchmarks (verification and the viewer).

    layout = trail_data_dir(1_000_000)   # built once per process, removed at exit

A practice of STAFF staff members (real StaffUser rows, so the viewer can show
names) and CLIENTS client ids, over YEARS years: chart views, searches, edits,
notes signed, sign-ins and sign-outs, failed sign-ins, refusals, exports and a
few break-glass accesses, spread evenly with random gaps and denser on
weekdays' working hours. Every entry is sealed with the real chain code
(webapp.audit.chain.seal), so the trail verifies; rows go in with executemany,
ten thousand to a transaction, which is far faster than one append per entry.
"""

from __future__ import annotations

import atexit
import random
import shutil
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from appliance.paths import Layout
from bench.common import initialize, note

STAFF = 50
CLIENTS = 2000
YEARS = 6
BATCH = 10_000

# action: (weight, object type, outcome, carries a client id)
ACTIONS: dict[str, tuple[float, str, str, bool]] = {
    "view": (55.0, "client", "success", True),
    "search": (7.0, "client_list", "success", False),
    "update": (7.0, "client", "success", True),
    "create": (3.0, "note", "success", True),
    "sign": (3.0, "note", "success", True),
    "login": (9.0, "staff_user", "success", False),
    "logout": (7.0, "staff_user", "success", False),
    "login_failed": (1.5, "staff_user", "failure", False),
    "mfa": (3.0, "staff_user", "success", False),
    "permission_denied": (1.0, "client", "denied", True),
    "export": (0.5, "client", "success", True),
    "print": (0.5, "client", "success", True),
    "break_glass": (0.2, "client", "success", True),
    "config_change": (0.3, "practice_settings", "success", False),
}
ROLES = ["clinician"] * 30 + ["clinician,supervisor"] * 5 + ["biller"] * 5 + \
    ["front_desk"] * 7 + ["admin"] * 3

_built: dict[tuple[int, int], Layout] = {}


def _staff_rows(database: Any) -> list[int]:
    from webapp.core.models import StaffUser

    now = datetime(2026, 1, 1)
    rows = [{"username": f"bench{n:02d}", "full_name": f"Bench Staff {n:02d}",
             "password_hash": "not-a-password", "roles": ROLES[n % len(ROLES)],
             "created_at": now, "updated_at": now} for n in range(STAFF)]
    with database.atomic():
        StaffUser.insert_many(rows).execute()
    return [user.id for user in StaffUser.select(StaffUser.id).order_by(StaffUser.id)]


def entries(count: int, staff_ids: list[int], first_id: int, previous_mac: str, key: bytes,
            seed: int = 2026, end: datetime | None = None) -> Any:
    """Yield `count` sealed rows (FIELDS..., mac) from `first_id`, chained after `previous_mac`."""
    from webapp.audit import chain

    rng = random.Random(seed)
    base = chain.signer(key)
    names = list(ACTIONS)
    weights = [ACTIONS[name][0] for name in names]
    end = end or datetime(2026, 11, 1)
    moment = end - timedelta(days=365 * YEARS)
    mean_gap = (end - moment).total_seconds() / count
    roles = {staff_id: ROLES[n % len(ROLES)] for n, staff_id in enumerate(staff_ids)}
    picks = rng.choices(names, weights, k=count)
    for offset, action in enumerate(picks):
        moment += timedelta(seconds=rng.expovariate(1 / mean_gap))
        _, object_type, outcome, for_client = ACTIONS[action]
        client = rng.randint(1, CLIENTS) if for_client else None
        roll = rng.random()
        actor: tuple[str, int | None, str]
        if roll < 0.03 and action in ("view", "login", "logout"):
            actor = ("client", rng.randint(1, CLIENTS), "client")
        elif roll < 0.05 and action not in ("login_failed", "mfa"):
            actor = ("system", None, "")
        else:
            staff_id = rng.choice(staff_ids)
            actor = ("staff", staff_id, roles[staff_id])
        object_id = client if object_type == "client" else rng.randint(1, 400_000)
        if object_type == "staff_user":
            object_id = actor[1]
        row = (first_id + offset, str(moment), actor[0], actor[1], actor[2], action,
               object_type, object_id, client, f"10.0.{rng.randint(0, 3)}.{rng.randint(2, 254)}",
               f"{rng.getrandbits(64):016x}", outcome)
        previous_mac = chain.seal(base, previous_mac, row)
        yield (*row, previous_mac)


def fill(database: Any, count: int, key: bytes, seed: int = 2026) -> None:
    """Append `count` sealed entries after the current chain head."""
    from webapp.audit import chain

    staff_ids = _staff_rows(database)
    head = database.execute_sql(
        "SELECT id, mac FROM audit_entry ORDER BY id DESC LIMIT 1").fetchone()
    first_id, previous = (head[0] + 1, head[1]) if head else (1, chain.GENESIS)
    insert = (f"INSERT INTO audit_entry ({chain.COLUMNS}, mac) "
              f"VALUES ({', '.join('?' * (len(chain.FIELDS) + 1))})")
    batch: list[tuple[Any, ...]] = []
    for row in entries(count, staff_ids, first_id, previous, key, seed):
        batch.append(row)
        if len(batch) == BATCH:
            with database.atomic():
                database.cursor().executemany(insert, batch)
            batch = []
    if batch:
        with database.atomic():
            database.cursor().executemany(insert, batch)


def trail_data_dir(count: int = 1_000_000, seed: int = 2026) -> Layout:
    """A fresh data dir whose audit trail holds `count` sealed entries.

    Built once per process in a temporary directory removed at exit. Leaves
    `appliance.storage.db` unlocked on it and closed.
    """
    from appliance import storage
    from appliance.keys import AUDIT_KEY, load_key

    if (count, seed) in _built:
        layout = _built[(count, seed)]
        storage.open_database(layout)
        return layout
    root = Path(tempfile.mkdtemp(prefix=f"hearth-bench-audit-{count}-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    layout = Layout(data_dir=root / "var", config_dir=root / "var")
    started = time.perf_counter()
    note(f"building an audit trail of {count:,} entries in {root}")
    initialize(layout)
    with storage.db.connection_context():
        fill(storage.db, count, load_key(layout, AUDIT_KEY), seed)
    storage.db.close()
    note(f"audit trail ready in {time.perf_counter() - started:.0f} s")
    _built[(count, seed)] = layout
    return layout
