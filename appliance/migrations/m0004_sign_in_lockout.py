"""Version 4: failed sign-ins per account (lockout) and per address (throttling)."""

from __future__ import annotations

from typing import Any

VERSION = 4
DESCRIPTION = "sign-in lockout and throttling"


def apply(database: Any) -> None:
    for table in ("staff_user", "client_account"):
        database.execute_sql(
            f'ALTER TABLE "{table}" ADD COLUMN "failed_sign_ins" INTEGER NOT NULL DEFAULT 0')
        database.execute_sql(f'ALTER TABLE "{table}" ADD COLUMN "locked_until" DATETIME')
    database.execute_sql(
        'CREATE TABLE "sign_in_throttle" ("id" INTEGER NOT NULL PRIMARY KEY, '
        '"app" VARCHAR(10) NOT NULL, "address" VARCHAR(64) NOT NULL, '
        '"failures" INTEGER NOT NULL, "window_started_at" DATETIME NOT NULL)')
    database.execute_sql(
        'CREATE UNIQUE INDEX "sign_in_throttle_app_address" '
        'ON "sign_in_throttle" ("app", "address")')
