"""Version 5: MFA, recovery codes, practice settings, supervision, invitations, account
changes, break-glass, clinical notes, outgoing mail, the business associates register and
portal invitations (issue "identity and access")."""

from __future__ import annotations

from typing import Any

VERSION = 5
DESCRIPTION = "identity and access"

COLUMNS = [
    ('staff_user', '"mfa_secret" VARCHAR(64) NOT NULL DEFAULT \'\''),
    ('staff_user', '"mfa_last_step" INTEGER NOT NULL DEFAULT 0'),
    ('staff_user', '"mfa_enrolled_at" DATETIME'),
    ('staff_user', '"password_changed_at" DATETIME'),
    ('staff_user', '"disabled_at" DATETIME'),
    ('client_account', '"mfa_secret" VARCHAR(64) NOT NULL DEFAULT \'\''),
    ('client_account', '"mfa_last_step" INTEGER NOT NULL DEFAULT 0'),
    ('client_account', '"mfa_enrolled_at" DATETIME'),
    ('client_account', '"guardian_id" INTEGER REFERENCES "guardian" ("id") ON DELETE SET NULL'),
]

STATEMENTS = [
    'CREATE TABLE "recovery_code" ("id" INTEGER NOT NULL PRIMARY KEY, "app" '
    'VARCHAR(10) NOT NULL, "principal_id" INTEGER NOT NULL, "code_hash" VARCHAR(255) '
    'NOT NULL, "created_at" DATETIME NOT NULL, "used_at" DATETIME)',
    'CREATE INDEX "recovery_code_app_principal_id" ON "recovery_code" ("app", '
    '"principal_id")',
    'CREATE TABLE "practice_setting" ("name" VARCHAR(60) NOT NULL PRIMARY KEY, '
    '"value" TEXT NOT NULL, "updated_at" DATETIME NOT NULL, "updated_by_id" INTEGER, '
    'FOREIGN KEY ("updated_by_id") REFERENCES "staff_user" ("id") ON DELETE SET NULL)',
    'CREATE INDEX "practice_setting_updated_by_id" ON "practice_setting" '
    '("updated_by_id")',
    'CREATE TABLE "supervision" ("id" INTEGER NOT NULL PRIMARY KEY, "supervisor_id" '
    'INTEGER NOT NULL, "supervisee_id" INTEGER NOT NULL, "started_at" DATETIME NOT '
    'NULL, FOREIGN KEY ("supervisor_id") REFERENCES "staff_user" ("id") ON DELETE '
    'CASCADE, FOREIGN KEY ("supervisee_id") REFERENCES "staff_user" ("id") ON DELETE '
    'CASCADE)',
    'CREATE INDEX "supervision_supervisor_id" ON "supervision" ("supervisor_id")',
    'CREATE INDEX "supervision_supervisee_id" ON "supervision" ("supervisee_id")',
    'CREATE UNIQUE INDEX "supervision_supervisor_id_supervisee_id" ON "supervision" '
    '("supervisor_id", "supervisee_id")',
    'CREATE TABLE "staff_invitation" ("id" INTEGER NOT NULL PRIMARY KEY, "token_hash" '
    'VARCHAR(64) NOT NULL, "username" VARCHAR(64) NOT NULL, "full_name" VARCHAR(200) '
    'NOT NULL, "credentials" VARCHAR(60) NOT NULL, "email" VARCHAR(254) NOT NULL, '
    '"roles" VARCHAR(200) NOT NULL, "approved_by_id" INTEGER NOT NULL, "reason" TEXT '
    'NOT NULL, "created_at" DATETIME NOT NULL, "expires_at" DATETIME NOT NULL, '
    '"accepted_at" DATETIME, "revoked_at" DATETIME, "staff_user_id" INTEGER, FOREIGN '
    'KEY ("approved_by_id") REFERENCES "staff_user" ("id") ON DELETE RESTRICT, '
    'FOREIGN KEY ("staff_user_id") REFERENCES "staff_user" ("id") ON DELETE SET NULL)',
    'CREATE UNIQUE INDEX "staff_invitation_token_hash" ON "staff_invitation" '
    '("token_hash")',
    'CREATE INDEX "staff_invitation_approved_by_id" ON "staff_invitation" '
    '("approved_by_id")',
    'CREATE INDEX "staff_invitation_staff_user_id" ON "staff_invitation" '
    '("staff_user_id")',
    'CREATE TABLE "account_change" ("id" INTEGER NOT NULL PRIMARY KEY, '
    '"staff_user_id" INTEGER NOT NULL, "changed_by_id" INTEGER, "kind" VARCHAR(30) '
    'NOT NULL, "detail" VARCHAR(400) NOT NULL, "reason" TEXT NOT NULL, "occurred_at" '
    'DATETIME NOT NULL, FOREIGN KEY ("staff_user_id") REFERENCES "staff_user" ("id") '
    'ON DELETE CASCADE, FOREIGN KEY ("changed_by_id") REFERENCES "staff_user" ("id") '
    'ON DELETE SET NULL)',
    'CREATE INDEX "account_change_staff_user_id" ON "account_change" '
    '("staff_user_id")',
    'CREATE INDEX "account_change_changed_by_id" ON "account_change" '
    '("changed_by_id")',
    'CREATE TABLE "break_glass_grant" ("id" INTEGER NOT NULL PRIMARY KEY, '
    '"staff_user_id" INTEGER NOT NULL, "client_id" INTEGER NOT NULL, "reason" TEXT '
    'NOT NULL, "started_at" DATETIME NOT NULL, "expires_at" DATETIME NOT NULL, '
    '"reviewed_by_id" INTEGER, "reviewed_at" DATETIME, "review_note" TEXT NOT NULL, '
    'FOREIGN KEY ("staff_user_id") REFERENCES "staff_user" ("id") ON DELETE RESTRICT, '
    'FOREIGN KEY ("client_id") REFERENCES "client" ("id") ON DELETE CASCADE, FOREIGN '
    'KEY ("reviewed_by_id") REFERENCES "staff_user" ("id") ON DELETE SET NULL)',
    'CREATE INDEX "break_glass_grant_staff_user_id" ON "break_glass_grant" '
    '("staff_user_id")',
    'CREATE INDEX "break_glass_grant_client_id" ON "break_glass_grant" ("client_id")',
    'CREATE INDEX "break_glass_grant_reviewed_by_id" ON "break_glass_grant" '
    '("reviewed_by_id")',
    'CREATE INDEX "break_glass_grant_staff_user_id_client_id_expires_at" ON '
    '"break_glass_grant" ("staff_user_id", "client_id", "expires_at")',
    'CREATE INDEX "break_glass_grant_reviewed_at_started_at" ON "break_glass_grant" '
    '("reviewed_at", "started_at")',
    'CREATE TABLE "clinical_note" ("id" INTEGER NOT NULL PRIMARY KEY, "client_id" '
    'INTEGER NOT NULL, "author_id" INTEGER NOT NULL, "kind" VARCHAR(30) NOT NULL, '
    '"session_date" DATE NOT NULL, "body" TEXT NOT NULL, "status" VARCHAR(10) NOT '
    'NULL, "signed_at" DATETIME, "created_at" DATETIME NOT NULL, "updated_at" '
    'DATETIME NOT NULL, FOREIGN KEY ("client_id") REFERENCES "client" ("id") ON '
    'DELETE RESTRICT, FOREIGN KEY ("author_id") REFERENCES "staff_user" ("id") ON '
    'DELETE RESTRICT)',
    'CREATE INDEX "clinical_note_client_id" ON "clinical_note" ("client_id")',
    'CREATE INDEX "clinical_note_author_id" ON "clinical_note" ("author_id")',
    'CREATE INDEX "clinical_note_client_id_session_date" ON "clinical_note" '
    '("client_id", "session_date")',
    'CREATE TABLE "outgoing_mail" ("id" INTEGER NOT NULL PRIMARY KEY, "purpose" '
    'VARCHAR(40) NOT NULL, "to_address" VARCHAR(254) NOT NULL, "subject" VARCHAR(200) '
    'NOT NULL, "body" TEXT NOT NULL, "created_at" DATETIME NOT NULL, "sent_at" '
    'DATETIME, "attempts" INTEGER NOT NULL, "last_error" VARCHAR(400) NOT NULL)',
    'CREATE INDEX "outgoing_mail_sent_at_created_at" ON "outgoing_mail" ("sent_at", '
    '"created_at")',
    'CREATE TABLE "business_associate" ("id" INTEGER NOT NULL PRIMARY KEY, "vendor" '
    'VARCHAR(200) NOT NULL, "service" VARCHAR(200) NOT NULL, "touches_phi" INTEGER '
    'NOT NULL, "baa_status" VARCHAR(20) NOT NULL, "baa_signed_on" DATE, '
    '"review_due_on" DATE, "notes" TEXT NOT NULL, "config_key" VARCHAR(60), '
    '"created_at" DATETIME NOT NULL, "updated_at" DATETIME NOT NULL)',
    'CREATE UNIQUE INDEX "business_associate_config_key" ON "business_associate" '
    '("config_key")',
    'CREATE TABLE "business_associate_document" ("id" INTEGER NOT NULL PRIMARY KEY, '
    '"business_associate_id" INTEGER NOT NULL, "kind" VARCHAR(20) NOT NULL, '
    '"filename" VARCHAR(200) NOT NULL, "content_type" VARCHAR(100) NOT NULL, '
    '"content" BLOB NOT NULL, "uploaded_at" DATETIME NOT NULL, "uploaded_by_id" '
    'INTEGER, FOREIGN KEY ("business_associate_id") REFERENCES "business_associate" '
    '("id") ON DELETE CASCADE, FOREIGN KEY ("uploaded_by_id") REFERENCES "staff_user" '
    '("id") ON DELETE SET NULL)',
    'CREATE INDEX "business_associate_document_business_associate_id" ON '
    '"business_associate_document" ("business_associate_id")',
    'CREATE INDEX "business_associate_document_uploaded_by_id" ON '
    '"business_associate_document" ("uploaded_by_id")',
    'CREATE TABLE "portal_link" ("id" INTEGER NOT NULL PRIMARY KEY, "account_id" '
    'INTEGER NOT NULL, "client_id" INTEGER NOT NULL, "guardian_id" INTEGER, FOREIGN '
    'KEY ("account_id") REFERENCES "client_account" ("id") ON DELETE CASCADE, FOREIGN '
    'KEY ("client_id") REFERENCES "client" ("id") ON DELETE CASCADE, FOREIGN KEY '
    '("guardian_id") REFERENCES "guardian" ("id") ON DELETE CASCADE)',
    'CREATE INDEX "portal_link_account_id" ON "portal_link" ("account_id")',
    'CREATE INDEX "portal_link_client_id" ON "portal_link" ("client_id")',
    'CREATE INDEX "portal_link_guardian_id" ON "portal_link" ("guardian_id")',
    'CREATE UNIQUE INDEX "portal_link_account_id_client_id" ON "portal_link" '
    '("account_id", "client_id")',
    'CREATE TABLE "portal_invitation" ("id" INTEGER NOT NULL PRIMARY KEY, "client_id" '
    'INTEGER NOT NULL, "guardian_id" INTEGER, "token_hash" VARCHAR(64) NOT NULL, '
    '"sent_to" VARCHAR(254) NOT NULL, "invited_by_id" INTEGER NOT NULL, "created_at" '
    'DATETIME NOT NULL, "expires_at" DATETIME NOT NULL, "code_hash" VARCHAR(255) NOT '
    'NULL, "code_expires_at" DATETIME, "attempts" INTEGER NOT NULL, "accepted_at" '
    'DATETIME, "revoked_at" DATETIME, "account_id" INTEGER, FOREIGN KEY ("client_id") '
    'REFERENCES "client" ("id") ON DELETE CASCADE, FOREIGN KEY ("guardian_id") '
    'REFERENCES "guardian" ("id") ON DELETE CASCADE, FOREIGN KEY ("invited_by_id") '
    'REFERENCES "staff_user" ("id") ON DELETE RESTRICT, FOREIGN KEY ("account_id") '
    'REFERENCES "client_account" ("id") ON DELETE SET NULL)',
    'CREATE INDEX "portal_invitation_client_id" ON "portal_invitation" ("client_id")',
    'CREATE INDEX "portal_invitation_guardian_id" ON "portal_invitation" '
    '("guardian_id")',
    'CREATE UNIQUE INDEX "portal_invitation_token_hash" ON "portal_invitation" '
    '("token_hash")',
    'CREATE INDEX "portal_invitation_invited_by_id" ON "portal_invitation" '
    '("invited_by_id")',
    'CREATE INDEX "portal_invitation_account_id" ON "portal_invitation" '
    '("account_id")',
    'CREATE INDEX "client_account_guardian_id" ON "client_account" ("guardian_id")',
]


def apply(database: Any) -> None:
    for table, column in COLUMNS:
        database.execute_sql(f'ALTER TABLE "{table}" ADD COLUMN {column}')
    for statement in STATEMENTS:
        database.execute_sql(statement)
    # Portal pages show only linked clients: every existing account sees its own client.
    database.execute_sql('INSERT INTO "portal_link" ("account_id", "client_id") '
                         'SELECT "id", "client_id" FROM "client_account"')
