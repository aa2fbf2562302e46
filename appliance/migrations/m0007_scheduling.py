"""Version 7: scheduling. Appointment types, rooms, appointments and their clients,
recurring series and their exceptions, working hours, time off and the waitlist
(issue "scheduling and reminders")."""

from __future__ import annotations

from typing import Any

VERSION = 7
DESCRIPTION = "scheduling"

STATEMENTS = [
    'CREATE TABLE "appointment_type" ("id" INTEGER NOT NULL PRIMARY KEY, "name" '
    'VARCHAR(80) NOT NULL, "duration_minutes" INTEGER NOT NULL, "cpt_code" VARCHAR(5)'
    ' NOT NULL, "modifiers" VARCHAR(20) NOT NULL, "modality" VARCHAR(10) NOT NULL, '
    '"format" VARCHAR(12) NOT NULL, "colour" VARCHAR(7) NOT NULL, "active" INTEGER '
    'NOT NULL)',
    'CREATE UNIQUE INDEX "appointment_type_name" ON "appointment_type" ("name")',
    'CREATE TABLE "room" ("id" INTEGER NOT NULL PRIMARY KEY, "name" VARCHAR(80) NOT '
    'NULL, "active" INTEGER NOT NULL)',
    'CREATE UNIQUE INDEX "room_name" ON "room" ("name")',
    'CREATE TABLE "series" ("id" INTEGER NOT NULL PRIMARY KEY, "clinician_id" INTEGER'
    ' NOT NULL, "rrule" VARCHAR(200) NOT NULL, "starts_local" DATETIME NOT NULL, '
    '"timezone" VARCHAR(60) NOT NULL, "count" INTEGER NOT NULL, "created_at" DATETIME'
    ' NOT NULL, FOREIGN KEY ("clinician_id") REFERENCES "staff_user" ("id") ON DELETE'
    ' RESTRICT)',
    'CREATE INDEX "series_clinician_id" ON "series" ("clinician_id")',
    'CREATE TABLE "appointment" ("id" INTEGER NOT NULL PRIMARY KEY, "clinician_id" '
    'INTEGER NOT NULL, "room_id" INTEGER, "appointment_type_id" INTEGER NOT NULL, '
    '"starts_at" DATETIME NOT NULL, "ends_at" DATETIME NOT NULL, "status" VARCHAR(20)'
    ' NOT NULL, "status_reason" VARCHAR(200) NOT NULL, "status_changed_at" DATETIME, '
    '"series_id" INTEGER, "occurrence_index" INTEGER, "override_reason" VARCHAR(200) '
    'NOT NULL, "created_at" DATETIME NOT NULL, "updated_at" DATETIME NOT NULL, '
    'FOREIGN KEY ("clinician_id") REFERENCES "staff_user" ("id") ON DELETE RESTRICT, '
    'FOREIGN KEY ("room_id") REFERENCES "room" ("id") ON DELETE RESTRICT, FOREIGN KEY'
    ' ("appointment_type_id") REFERENCES "appointment_type" ("id") ON DELETE '
    'RESTRICT, FOREIGN KEY ("series_id") REFERENCES "series" ("id") ON DELETE SET '
    'NULL)',
    'CREATE INDEX "appointment_appointment_type_id" ON "appointment" '
    '("appointment_type_id")',
    'CREATE INDEX "appointment_clinician_id_starts_at" ON "appointment" '
    '("clinician_id", "starts_at")',
    'CREATE INDEX "appointment_room_id_starts_at" ON "appointment" ("room_id", '
    '"starts_at")',
    'CREATE INDEX "appointment_starts_at" ON "appointment" ("starts_at")',
    'CREATE INDEX "appointment_series_id_occurrence_index" ON "appointment" '
    '("series_id", "occurrence_index")',
    'CREATE TABLE "appointment_client" ("id" INTEGER NOT NULL PRIMARY KEY, '
    '"appointment_id" INTEGER NOT NULL, "client_id" INTEGER NOT NULL, FOREIGN KEY '
    '("appointment_id") REFERENCES "appointment" ("id") ON DELETE CASCADE, FOREIGN '
    'KEY ("client_id") REFERENCES "client" ("id") ON DELETE RESTRICT)',
    'CREATE UNIQUE INDEX "appointment_client_appointment_id_client_id" ON '
    '"appointment_client" ("appointment_id", "client_id")',
    'CREATE INDEX "appointment_client_client_id_appointment_id" ON '
    '"appointment_client" ("client_id", "appointment_id")',
    'CREATE TABLE "series_exception" ("id" INTEGER NOT NULL PRIMARY KEY, "series_id" '
    'INTEGER NOT NULL, "occurrence_index" INTEGER NOT NULL, "kind" VARCHAR(10) NOT '
    'NULL, "original_starts_at" DATETIME NOT NULL, "created_at" DATETIME NOT NULL, '
    'FOREIGN KEY ("series_id") REFERENCES "series" ("id") ON DELETE CASCADE)',
    'CREATE UNIQUE INDEX "series_exception_series_id_occurrence_index" ON '
    '"series_exception" ("series_id", "occurrence_index")',
    'CREATE TABLE "working_hours" ("id" INTEGER NOT NULL PRIMARY KEY, "clinician_id" '
    'INTEGER NOT NULL, "weekday" INTEGER NOT NULL, "starts" VARCHAR(5) NOT NULL, '
    '"ends" VARCHAR(5) NOT NULL, FOREIGN KEY ("clinician_id") REFERENCES "staff_user" ("id") ON '
    'DELETE CASCADE)',
    'CREATE INDEX "working_hours_clinician_id_weekday" ON "working_hours" '
    '("clinician_id", "weekday")',
    'CREATE TABLE "time_off" ("id" INTEGER NOT NULL PRIMARY KEY, "clinician_id" '
    'INTEGER NOT NULL, "starts_at" DATETIME NOT NULL, "ends_at" DATETIME NOT NULL, '
    '"reason" VARCHAR(200) NOT NULL, FOREIGN KEY ("clinician_id") REFERENCES '
    '"staff_user" ("id") ON DELETE CASCADE)',
    'CREATE INDEX "time_off_clinician_id_starts_at" ON "time_off" ("clinician_id", '
    '"starts_at")',
    'CREATE TABLE "waitlist_entry" ("id" INTEGER NOT NULL PRIMARY KEY, "client_id" '
    'INTEGER NOT NULL, "clinician_id" INTEGER, "preferences" VARCHAR(200) NOT NULL, '
    '"created_at" DATETIME NOT NULL, "offered_at" DATETIME, "closed_at" DATETIME, '
    'FOREIGN KEY ("client_id") REFERENCES "client" ("id") ON DELETE CASCADE, FOREIGN '
    'KEY ("clinician_id") REFERENCES "staff_user" ("id") ON DELETE SET NULL)',
    'CREATE INDEX "waitlist_entry_client_id" ON "waitlist_entry" ("client_id")',
    'CREATE INDEX "waitlist_entry_clinician_id" ON "waitlist_entry" ("clinician_id")',
    'CREATE INDEX "waitlist_entry_closed_at_created_at" ON "waitlist_entry" '
    '("closed_at", "created_at")',
]


def apply(database: Any) -> None:
    for statement in STATEMENTS:
        database.execute_sql(statement)
