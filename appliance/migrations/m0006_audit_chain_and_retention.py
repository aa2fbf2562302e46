"""Version 6: the keyed audit chain (a mac per entry), checkpoints, retention policies,
destruction records, retention runs and record revisions (issue "audit trail")."""

from __future__ import annotations

from typing import Any

VERSION = 6
DESCRIPTION = "audit chain, retention and revisions"

STATEMENTS = [
    'ALTER TABLE "audit_entry" ADD COLUMN "mac" VARCHAR(64) NOT NULL DEFAULT \'\'',
    'CREATE TABLE "audit_checkpoint" ("id" INTEGER NOT NULL PRIMARY KEY, "kind" '
    'VARCHAR(10) NOT NULL, "entry_id" INTEGER NOT NULL, "mac" VARCHAR(64) NOT NULL, '
    '"entry_count" INTEGER NOT NULL, "created_at" DATETIME NOT NULL, "signature" '
    'VARCHAR(64) NOT NULL)',
    'CREATE INDEX "audit_checkpoint_kind_entry_id" ON "audit_checkpoint" ("kind", '
    '"entry_id")',
    'CREATE TABLE "retention_policy" ("kind" VARCHAR(40) NOT NULL PRIMARY KEY, '
    '"years" INTEGER NOT NULL, "override_reason" TEXT NOT NULL, "updated_at" DATETIME '
    'NOT NULL, "updated_by_id" INTEGER, FOREIGN KEY ("updated_by_id") REFERENCES '
    '"staff_user" ("id") ON DELETE SET NULL)',
    'CREATE INDEX "retention_policy_updated_by_id" ON "retention_policy" '
    '("updated_by_id")',
    'CREATE TABLE "destruction_record" ("id" INTEGER NOT NULL PRIMARY KEY, '
    '"object_type" VARCHAR(40) NOT NULL, "object_id" INTEGER NOT NULL, "client_id" '
    'INTEGER, "content_hash" VARCHAR(64) NOT NULL, "reason" TEXT NOT NULL, '
    '"destroyed_by_id" INTEGER, "destroyed_at" DATETIME NOT NULL, FOREIGN KEY '
    '("destroyed_by_id") REFERENCES "staff_user" ("id") ON DELETE SET NULL)',
    'CREATE INDEX "destruction_record_destroyed_by_id" ON "destruction_record" '
    '("destroyed_by_id")',
    'CREATE TABLE "retention_run" ("id" INTEGER NOT NULL PRIMARY KEY, "started_at" '
    'DATETIME NOT NULL, "finished_at" DATETIME, "summary" TEXT NOT NULL)',
    'CREATE TABLE "revision" ("id" INTEGER NOT NULL PRIMARY KEY, "object_type" '
    'VARCHAR(40) NOT NULL, "object_id" INTEGER NOT NULL, "version" INTEGER NOT NULL, '
    '"actor_kind" VARCHAR(10) NOT NULL, "actor_id" INTEGER, "created_at" DATETIME NOT '
    'NULL, "snapshot" TEXT NOT NULL, "changes" TEXT NOT NULL, "content_hash" '
    'VARCHAR(64) NOT NULL)',
    'CREATE UNIQUE INDEX "revision_object_type_object_id_version" ON "revision" '
    '("object_type", "object_id", "version")',
    'CREATE INDEX "audit_entry_action_occurred_at" ON "audit_entry" ("action", '
    '"occurred_at")',
    'CREATE INDEX "audit_entry_object_type_object_id" ON "audit_entry" '
    '("object_type", "object_id")',
]


def apply(database: Any) -> None:
    # Entries written before this step have no mac yet: `hearth migrate` seals them
    # with the audit key right after (appliance.cli), since a step never reads keys.
    for statement in STATEMENTS:
        database.execute_sql(statement)
