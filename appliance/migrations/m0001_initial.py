"""Version 1: staff, sessions, heartbeat, audit, clients and portal accounts."""

from __future__ import annotations

from typing import Any

VERSION = 1
DESCRIPTION = "initial schema"

STATEMENTS = [
    """CREATE TABLE "audit_entry" ("id" INTEGER NOT NULL PRIMARY KEY, "occurred_at" DATETIME NOT NULL, "actor_kind" VARCHAR(10) NOT NULL, "actor_id" INTEGER, "actor_role" VARCHAR(60) NOT NULL, "action" VARCHAR(40) NOT NULL, "object_type" VARCHAR(40) NOT NULL, "object_id" INTEGER, "client_id" INTEGER, "source_address" VARCHAR(64) NOT NULL, "request_id" VARCHAR(40) NOT NULL, "outcome" VARCHAR(20) NOT NULL)""",
    """CREATE INDEX "audit_entry_client_id_occurred_at" ON "audit_entry" ("client_id", "occurred_at")""",
    """CREATE INDEX "audit_entry_actor_id_occurred_at" ON "audit_entry" ("actor_id", "occurred_at")""",
    """CREATE INDEX "audit_entry_occurred_at" ON "audit_entry" ("occurred_at")""",
    """CREATE TABLE "client" ("id" INTEGER NOT NULL PRIMARY KEY, "legal_first_name" VARCHAR(100) NOT NULL, "legal_middle_name" VARCHAR(100) NOT NULL, "legal_last_name" VARCHAR(100) NOT NULL, "preferred_name" VARCHAR(100) NOT NULL, "pronouns" VARCHAR(40) NOT NULL, "date_of_birth" DATE NOT NULL, "email" VARCHAR(254) NOT NULL, "mobile_phone" VARCHAR(20) NOT NULL, "home_phone" VARCHAR(20) NOT NULL, "preferred_channel" VARCHAR(10) NOT NULL, "consent_email" INTEGER NOT NULL, "consent_sms" INTEGER NOT NULL, "consent_voicemail" INTEGER NOT NULL, "address_line1" VARCHAR(200) NOT NULL, "address_line2" VARCHAR(200) NOT NULL, "city" VARCHAR(100) NOT NULL, "state" VARCHAR(2) NOT NULL, "postal_code" VARCHAR(10) NOT NULL, "emergency_name" VARCHAR(200) NOT NULL, "emergency_relationship" VARCHAR(60) NOT NULL, "emergency_phone" VARCHAR(20) NOT NULL, "status" VARCHAR(12) NOT NULL, "discharged_on" DATE, "discharge_reason" VARCHAR(200) NOT NULL, "created_at" DATETIME NOT NULL, "updated_at" DATETIME NOT NULL)""",
    """CREATE INDEX "client_date_of_birth" ON "client" ("date_of_birth")""",
    """CREATE INDEX "client_status" ON "client" ("status")""",
    """CREATE INDEX "client_legal_last_name_legal_first_name" ON "client" ("legal_last_name", "legal_first_name")""",
    """CREATE TABLE "client_account" ("id" INTEGER NOT NULL PRIMARY KEY, "username" VARCHAR(254) NOT NULL, "client_id" INTEGER NOT NULL, "password_hash" VARCHAR(255) NOT NULL, "is_active" INTEGER NOT NULL, "created_at" DATETIME NOT NULL, FOREIGN KEY ("client_id") REFERENCES "client" ("id") ON DELETE CASCADE)""",
    """CREATE UNIQUE INDEX "client_account_username" ON "client_account" ("username")""",
    """CREATE INDEX "client_account_client_id" ON "client_account" ("client_id")""",
    """CREATE TABLE "staff_user" ("id" INTEGER NOT NULL PRIMARY KEY, "username" VARCHAR(64) NOT NULL, "full_name" VARCHAR(200) NOT NULL, "credentials" VARCHAR(60) NOT NULL, "email" VARCHAR(254) NOT NULL, "password_hash" VARCHAR(255) NOT NULL, "roles" VARCHAR(200) NOT NULL, "is_active" INTEGER NOT NULL, "created_at" DATETIME NOT NULL, "updated_at" DATETIME NOT NULL)""",
    """CREATE UNIQUE INDEX "staff_user_username" ON "staff_user" ("username")""",
    """CREATE TABLE "clinician_assignment" ("id" INTEGER NOT NULL PRIMARY KEY, "client_id" INTEGER NOT NULL, "clinician_id" INTEGER NOT NULL, "is_primary" INTEGER NOT NULL, "assigned_at" DATETIME NOT NULL, FOREIGN KEY ("client_id") REFERENCES "client" ("id") ON DELETE CASCADE, FOREIGN KEY ("clinician_id") REFERENCES "staff_user" ("id") ON DELETE RESTRICT)""",
    """CREATE INDEX "clinician_assignment_client_id" ON "clinician_assignment" ("client_id")""",
    """CREATE INDEX "clinician_assignment_clinician_id" ON "clinician_assignment" ("clinician_id")""",
    """CREATE UNIQUE INDEX "clinician_assignment_client_id_clinician_id" ON "clinician_assignment" ("client_id", "clinician_id")""",
    """CREATE TABLE "guardian" ("id" INTEGER NOT NULL PRIMARY KEY, "client_id" INTEGER NOT NULL, "full_name" VARCHAR(200) NOT NULL, "relationship" VARCHAR(40) NOT NULL, "phone" VARCHAR(20) NOT NULL, "email" VARCHAR(254) NOT NULL, "has_legal_authority" INTEGER NOT NULL, "created_at" DATETIME NOT NULL, FOREIGN KEY ("client_id") REFERENCES "client" ("id") ON DELETE CASCADE)""",
    """CREATE INDEX "guardian_client_id" ON "guardian" ("client_id")""",
    """CREATE TABLE "insurance_policy" ("id" INTEGER NOT NULL PRIMARY KEY, "client_id" INTEGER NOT NULL, "rank" INTEGER NOT NULL, "payer_name" VARCHAR(200) NOT NULL, "payer_id" VARCHAR(20) NOT NULL, "member_id" VARCHAR(40) NOT NULL, "group_number" VARCHAR(40) NOT NULL, "subscriber_relationship" VARCHAR(10) NOT NULL, "subscriber_first_name" VARCHAR(100) NOT NULL, "subscriber_last_name" VARCHAR(100) NOT NULL, "subscriber_date_of_birth" DATE, "effective_on" DATE, "ends_on" DATE, "created_at" DATETIME NOT NULL, FOREIGN KEY ("client_id") REFERENCES "client" ("id") ON DELETE CASCADE)""",
    """CREATE INDEX "insurance_policy_client_id" ON "insurance_policy" ("client_id")""",
    """CREATE TABLE "web_session" ("token_hash" VARCHAR(64) NOT NULL PRIMARY KEY, "app" VARCHAR(10) NOT NULL, "principal_id" INTEGER, "data" TEXT NOT NULL, "created_at" DATETIME NOT NULL, "last_seen_at" DATETIME NOT NULL)""",
    """CREATE INDEX "web_session_app_principal_id" ON "web_session" ("app", "principal_id")""",
    """CREATE TABLE "worker_heartbeat" ("name" VARCHAR(40) NOT NULL PRIMARY KEY, "beat_at" DATETIME NOT NULL)""",
]


def apply(database: Any) -> None:
    for statement in STATEMENTS:
        database.execute_sql(statement)
