"""Numbered migration steps and the schema version stored in the database.

The data layout has its own version, separate from the code's. Each step is a
module `mNNNN_<what>.py` with `VERSION`, `DESCRIPTION` and `apply(conn)`; its
SQL is frozen when written (it never imports today's models), so a database
from any older release migrates the same way. `hearth migrate` and
`hearth init` run them; creating an app never does.
"""

from __future__ import annotations

import importlib
import pkgutil
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

from appliance import HearthError

VERSION_TABLE = "hearth_schema_version"


class SchemaError(HearthError):
    pass


def steps() -> list[ModuleType]:
    found = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("m") and info.name[1:5].isdigit():
            found.append(importlib.import_module(f"{__name__}.{info.name}"))
    found.sort(key=lambda module: module.VERSION)
    versions = [module.VERSION for module in found]
    if versions != list(range(1, len(found) + 1)):
        raise SchemaError(f"migration steps are not numbered 1..n: {versions}")
    return found


def latest_version() -> int:
    return len(steps())


def current_version(database: Any) -> int:
    """The schema version of an open database (0 for an empty one)."""
    tables = {row[0] for row in database.execute_sql(
        "SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()}
    if VERSION_TABLE not in tables:
        return 0
    row = database.execute_sql(f"SELECT max(version) FROM {VERSION_TABLE}").fetchone()
    return int(row[0] or 0)


def migrate(database: Any, target: int | None = None) -> list[int]:
    """Apply every step above the current version, each in its own transaction."""
    available = steps()
    target = len(available) if target is None else target
    applied = []
    with database.connection_context():
        current = current_version(database)
        if current > len(available):
            raise SchemaError(
                f"the database has schema version {current}, newer than this Hearth "
                f"knows ({len(available)}); install the newer Hearth release"
            )
        for step in available[current:target]:
            with database.atomic("IMMEDIATE"):
                # Re-read inside the write lock: another process may have migrated.
                if current_version(database) >= step.VERSION:
                    continue
                database.execute_sql(
                    f"CREATE TABLE IF NOT EXISTS {VERSION_TABLE} ("
                    "version INTEGER NOT NULL PRIMARY KEY, description TEXT NOT NULL, "
                    "applied_at DATETIME NOT NULL)"
                )
                step.apply(database)
                database.execute_sql(
                    f"INSERT INTO {VERSION_TABLE} (version, description, applied_at) "
                    "VALUES (?, ?, ?)",
                    (step.VERSION, step.DESCRIPTION,
                     datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")),
                )
            applied.append(step.VERSION)
    return applied


def require_current_schema(database: Any) -> None:
    with database.connection_context():
        current = current_version(database)
    latest = latest_version()
    if current < latest:
        raise SchemaError(
            f"the database has schema version {current}; this Hearth needs {latest}: "
            "run 'hearth migrate'"
        )
    if current > latest:
        raise SchemaError(
            f"the database has schema version {current}, newer than this Hearth "
            f"knows ({latest}); install the newer Hearth release"
        )
