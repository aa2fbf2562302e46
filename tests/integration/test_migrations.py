"""Migrations with data: every older schema version upgrades with its rows intact, and
the result is exactly the schema the models describe."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from appliance import keys
from appliance.config import Settings
from appliance.migrations import (
    VERSION_TABLE,
    SchemaError,
    current_version,
    latest_version,
    migrate,
)
from appliance.migrations.m0003_client_sort_name import fold
from appliance.paths import Layout
from appliance.storage import HearthDatabase, db
from tests.conftest import run_hearth
from tests.integration.conftest import assert_one_line_failure, file_digests, release_database
from webapp.models import ALL_MODELS

# Per table: columns (name, type, notnull, pk), indexes (name, unique, columns) and
# foreign keys (table, from, to, on_update, on_delete).
Schema = dict[str, tuple[frozenset[Any], frozenset[Any], frozenset[Any]]]
Rows = dict[str, list[dict[str, Any]]]

NOW = "2026-03-02 14:30:00"


def new_database(layout: Layout, version: int) -> HearthDatabase:
    """A new keyed database migrated to `version`; the shared `db` is left unlocked on it."""
    layout.data_dir.mkdir(parents=True)
    keys.ensure_keys(layout)
    db.unlock(layout.database, keys.load_key(layout, keys.DATABASE_KEY), create=True)
    migrate(db, target=version)
    with db.connection_context():
        assert current_version(db) == version
    return db


def insert(database: HearthDatabase, table: str, **values: Any) -> int:
    columns = ", ".join(f'"{name}"' for name in values)
    marks = ", ".join("?" for _ in values)
    cursor = database.execute_sql(f'INSERT INTO "{table}" ({columns}) VALUES ({marks})',
                                  tuple(values.values()))
    return int(cursor.lastrowid)


def client_v1(first: str, middle: str, last: str, preferred: str, born: str,
              **extra: Any) -> dict[str, Any]:
    """Every column the version-1 client table has (none of them had defaults then)."""
    row = dict(
        legal_first_name=first, legal_middle_name=middle, legal_last_name=last,
        preferred_name=preferred, pronouns="", date_of_birth=born, email="", mobile_phone="",
        home_phone="", preferred_channel="portal", consent_email=0, consent_sms=0,
        consent_voicemail=0, address_line1="", address_line2="", city="", state="",
        postal_code="", emergency_name="", emergency_relationship="", emergency_phone="",
        status="active", discharged_on=None, discharge_reason="", created_at=NOW,
        updated_at=NOW)
    row.update(extra)
    return row


# (first, middle, last, preferred) and the search text version 2 must derive from them.
V1_CLIENTS = [
    (("José", "", "Álvarez", ""), "jose alvarez"),
    (("Zoë", "Marie", "Ó Briain", "Zo"), "zoe marie o briain zo"),
    (("Renée", "", "Ørsted-Strauß", ""), "renee ørsted-strauss"),
    (("Nguyễn", "Thị", "Hương", ""), "nguyen thi huong"),
    (("Sam", "", "O'Neil", "Sammy"), "sam o'neil sammy"),
]


def seed_version_0(database: HearthDatabase) -> dict[str, str]:
    """An empty database: there is nothing to insert before the first step."""
    return {}


def seed_version_1(database: HearthDatabase) -> dict[str, str]:
    """Staff, clients with accented names, guardians, insurance, caseloads, portal, audit."""
    expected_search = {}
    with database.atomic():
        clinician = insert(database, "staff_user", username="jchen", full_name="Julia Chen",
                           credentials="LCSW", email="jchen@practice.example",
                           password_hash="$argon2id$placeholder", roles="clinician",
                           is_active=1, created_at=NOW, updated_at=NOW)
        insert(database, "staff_user", username="admin", full_name="Morgan Reyes",
               credentials="", email="", password_hash="$argon2id$placeholder", roles="admin",
               is_active=1, created_at=NOW, updated_at=NOW)
        for index, ((first, middle, last, preferred), search) in enumerate(V1_CLIENTS):
            client_id = insert(database, "client", **client_v1(
                first, middle, last, preferred, born=f"19{80 + index}-04-0{index + 1}",
                email=f"client{index}@mail.example"))
            expected_search[str(client_id)] = search
            insert(database, "clinician_assignment", client_id=client_id,
                   clinician_id=clinician, is_primary=1, assigned_at=NOW)
            insert(database, "audit_entry", occurred_at=NOW, actor_kind="staff",
                   actor_id=clinician, actor_role="clinician", action="create",
                   object_type="client", object_id=client_id, client_id=client_id,
                   source_address="127.0.0.1", request_id=f"r{index}", outcome="success")
        minor = insert(database, "client", **client_v1("Ana", "", "Núñez", "", "2015-08-09"))
        expected_search[str(minor)] = "ana nunez"
        insert(database, "guardian", client_id=minor, full_name="Inés Núñez",
               relationship="parent", phone="(518) 555-0101", email="", has_legal_authority=1,
               created_at=NOW)
        insert(database, "insurance_policy", client_id=minor, rank=1, payer_name="Aetna",
               payer_id="60054", member_id="A123456789", group_number="",
               subscriber_relationship="child", subscriber_first_name="Inés",
               subscriber_last_name="Núñez", subscriber_date_of_birth="1984-02-03",
               effective_on="2026-01-01", ends_on=None, created_at=NOW)
        insert(database, "client_account", username="client0@mail.example", client_id=1,
               password_hash="$argon2id$placeholder", is_active=1, created_at=NOW)
        insert(database, "web_session", token_hash="ab" * 32, app="staff",
               principal_id=clinician, data="{}", created_at=NOW, last_seen_at=NOW)
        insert(database, "worker_heartbeat", name="worker", beat_at=NOW)
    return expected_search


# Rows valid at each older version. A new migration step makes the version below it
# "older": add a seeder for it here, with rows that exercise what the step changes.
def seed_version_2(database: HearthDatabase) -> dict[str, str]:
    """Version 1's rows with the search text that version 2 keeps; no sort name yet."""
    expected_search = seed_version_1(database)
    for client_id, search in expected_search.items():
        database.execute_sql('UPDATE "client" SET "search_text" = ? WHERE "id" = ?',
                             (search, int(client_id)))
    return expected_search


def seed_version_3(database: HearthDatabase) -> dict[str, str]:
    """Version 2's rows with version 3's sort names; no sign-in counters yet."""
    expected_search = seed_version_2(database)
    rows = database.execute_sql(
        'SELECT "id", "legal_first_name", "legal_last_name" FROM "client"').fetchall()
    for client_id, first, last in rows:
        database.execute_sql('UPDATE "client" SET "sort_name" = ? WHERE "id" = ?',
                             (f"{fold(last)} {fold(first)}", client_id))
    return expected_search


def seed_version_4(database: HearthDatabase) -> dict[str, str]:
    """Version 3's rows with a locked account and a throttled address; no MFA yet."""
    expected_search = seed_version_3(database)
    database.execute_sql('UPDATE "staff_user" SET "failed_sign_ins" = 10, '
                         '"locked_until" = ?', (NOW,))
    insert(database, "sign_in_throttle", app="staff", address="192.0.2.7", failures=3,
           window_started_at=NOW)
    return expected_search


def seed_version_5(database: HearthDatabase) -> dict[str, str]:
    """Version 4's rows with an MFA-enrolled clinician, a break-glass grant, a note and a
    portal link; audit entries without a mac (version 6 adds the chain)."""
    expected_search = seed_version_4(database)
    database.execute_sql('UPDATE "staff_user" SET "mfa_secret" = ?, "mfa_last_step" = 5',
                         ("JBSWY3DPEHPK3PXP",))
    staff_id = database.execute_sql('SELECT min("id") FROM "staff_user"').fetchone()[0]
    client_id = database.execute_sql('SELECT min("id") FROM "client"').fetchone()[0]
    insert(database, "break_glass_grant", staff_user_id=staff_id, client_id=client_id,
           reason="Crisis call at night", started_at=NOW, expires_at=NOW, review_note="")
    insert(database, "clinical_note", client_id=client_id, author_id=staff_id,
           kind="progress", session_date="2026-03-01", body="Seen.", status="draft",
           created_at=NOW, updated_at=NOW)
    return expected_search


def seed_version_6(database: HearthDatabase) -> dict[str, str]:
    """Version 5's rows with a sealed-looking audit entry, a retention policy and a
    revision; no scheduling tables yet (version 7 adds them, empty)."""
    expected_search = seed_version_5(database)
    database.execute_sql('UPDATE "audit_entry" SET "mac" = ?', ("ab" * 32,))
    staff_id = database.execute_sql('SELECT min("id") FROM "staff_user"').fetchone()[0]
    client_id = database.execute_sql('SELECT min("id") FROM "client"').fetchone()[0]
    insert(database, "retention_policy", kind="clinical_record", years=7,
           override_reason="State law", updated_at=NOW, updated_by_id=staff_id)
    insert(database, "revision", object_type="client", object_id=client_id, version=1,
           actor_kind="staff", actor_id=staff_id, created_at=NOW, snapshot="{}",
           changes="{}", content_hash="0" * 64)
    insert(database, "retention_run", started_at=NOW, finished_at=NOW, summary="{}")
    return expected_search


SEEDERS: dict[int, Callable[[HearthDatabase], dict[str, str]]] = {
    0: seed_version_0,
    1: seed_version_1,
    2: seed_version_2,
    3: seed_version_3,
    4: seed_version_4,
    5: seed_version_5,
    6: seed_version_6,
}

# What version 3's sort name must be for some of the seeded clients.
EXPECTED_SORT_NAMES = {"José Álvarez": "alvarez jose", "Zoë Marie Ó Briain": "o briain zoe",
                       "Renée Ørsted-Strauß": "ørsted-strauss renee", "Ana Núñez": "nunez ana"}


def user_tables(database: HearthDatabase) -> list[str]:
    return [row[0] for row in database.execute_sql(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        f"AND name != '{VERSION_TABLE}' ORDER BY name").fetchall()]


def all_rows(database: HearthDatabase) -> Rows:
    rows: Rows = {}
    with database.connection_context():
        for table in user_tables(database):
            cursor = database.execute_sql(f'SELECT * FROM "{table}" ORDER BY 1')
            names = [column[0] for column in cursor.description]
            rows[table] = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    return rows


def schema_of(database: HearthDatabase) -> Schema:
    schema: Schema = {}
    with database.connection_context():
        for table in user_tables(database):
            columns = frozenset((row[1], row[2].upper(), row[3], row[5]) for row in
                                database.execute_sql(f'PRAGMA table_info("{table}")'))
            indexes = set()
            for row in database.execute_sql(f'PRAGMA index_list("{table}")').fetchall():
                indexed = tuple(info[2] for info in database.execute_sql(
                    f'PRAGMA index_info("{row[1]}")').fetchall())
                indexes.add((row[1], row[2], indexed))
            foreign_keys = frozenset((row[2], row[3], row[4], row[5], row[6]) for row in
                                     database.execute_sql(f'PRAGMA foreign_key_list("{table}")'))
            schema[table] = (columns, frozenset(indexes), foreign_keys)
    return schema


@pytest.fixture(scope="module")
def model_schema(tmp_path_factory: pytest.TempPathFactory) -> Schema:
    """The schema peewee creates from the models on a fresh database."""
    path = tmp_path_factory.mktemp("models") / "fresh.db"
    db.unlock(path, keys.generate_key(), create=True)
    try:
        with db.connection_context():
            db.create_tables(ALL_MODELS)
        return schema_of(db)
    finally:
        db.close()


def assert_schema_matches_models(database: HearthDatabase, expected: Schema) -> None:
    actual = schema_of(database)
    assert sorted(actual) == sorted(expected)
    for table, (columns, indexes, foreign_keys) in expected.items():
        assert actual[table][0] == columns, f"columns of {table}"
        assert actual[table][1] == indexes, f"indexes of {table}"
        assert actual[table][2] == foreign_keys, f"foreign keys of {table}"


def test_models_schema_is_not_trivial(model_schema: Schema) -> None:
    """Does the comparison see every model's table, with its indexes and foreign keys?"""
    assert set(model_schema) == {model._meta.table_name for model in ALL_MODELS}
    assert ("client_search_text", 0, ("search_text",)) in model_schema["client"][1]
    assert ("client", "client_id", "id", "NO ACTION", "CASCADE") in model_schema["guardian"][2]


@pytest.mark.parametrize("version", range(latest_version()))
def test_upgrade_keeps_rows_and_matches_models(layout: Layout, model_schema: Schema,
                                               version: int) -> None:
    """Does a database at each older version, holding rows written for that version,
    migrate to the latest with every row intact, new columns backfilled, and a schema
    equal to the models'?"""
    seeder = SEEDERS.get(version)
    if seeder is None:
        pytest.fail(f"no rows for schema version {version}: add a seeder to SEEDERS")
    database = new_database(layout, version)
    with database.connection_context():
        expected_search = seeder(database)
    before = all_rows(database)

    applied = migrate(database)
    assert applied == list(range(version + 1, latest_version() + 1))
    with database.connection_context():
        assert current_version(database) == latest_version()

    after = all_rows(database)
    assert sorted(after) == sorted({model._meta.table_name for model in ALL_MODELS})
    for table, rows in before.items():
        kept = [{name: row[name] for name in rows[0]} for row in after[table]] if rows else []
        assert kept == rows, f"rows of {table} changed"
    search = {str(row["id"]): row["search_text"] for row in after.get("client", [])}
    assert search == expected_search
    from webapp.clients.models import Client

    with database.connection_context():
        sort_names = {c.legal_name: c.sort_name for c in Client.select()}
    for name, sort_name in EXPECTED_SORT_NAMES.items():
        assert sort_names.get(name, sort_name) == sort_name
    assert len(sort_names) == len(expected_search)
    assert_schema_matches_models(database, model_schema)
    # Version 5 links every portal account to its own client (portal pages need it).
    accounts = [(row["id"], row["client_id"]) for row in after.get("client_account", [])]
    links = [(row["account_id"], row["client_id"]) for row in after.get("portal_link", [])]
    assert links == (accounts if version < 5 else links)
    assert bool(accounts) == (version >= 1)

    # The models read the migrated rows, and search by the folded name finds them.
    with database.connection_context():
        found = [c.legal_name for c in Client.select().where(
            Client.search_text.contains("alvarez"))]
    assert found == (["José Álvarez"] if version >= 1 else [])


def test_new_database_matches_models(layout: Layout, model_schema: Schema) -> None:
    """Does a database built by the migrations alone equal the models' schema?"""
    database = new_database(layout, latest_version())
    assert_schema_matches_models(database, model_schema)


def test_migrate_is_idempotent(layout: Layout, model_schema: Schema) -> None:
    """Does running the migrations again change nothing and apply no step?"""
    database = new_database(layout, 1)
    with database.connection_context():
        seed_version_1(database)
    assert migrate(database) == list(range(2, latest_version() + 1))
    rows = all_rows(database)
    assert migrate(database) == []
    assert migrate(database, target=1) == []
    assert all_rows(database) == rows
    with database.connection_context():
        versions = [r[0] for r in database.execute_sql(
            f"SELECT version FROM {VERSION_TABLE} ORDER BY version").fetchall()]
    assert versions == list(range(1, latest_version() + 1))
    assert_schema_matches_models(database, model_schema)

    release_database()
    result = run_hearth(layout, "migrate")
    assert result.returncode == 0, result.stderr
    # The command also seals the entries written before the audit chain, once.
    assert result.stdout.splitlines()[0] == (
        f"schema at version {latest_version()}; 0 step(s) applied")
    again = run_hearth(layout, "migrate")
    assert again.stdout.strip() == f"schema at version {latest_version()}; 0 step(s) applied"


def test_database_newer_than_the_code_is_refused(layout: Layout) -> None:
    """Does a database from a newer release get a clear refusal, and stay untouched?"""
    database = new_database(layout, latest_version())
    newer = latest_version() + 1
    with database.connection_context():
        database.execute_sql(
            f"INSERT INTO {VERSION_TABLE} (version, description, applied_at) VALUES (?, ?, ?)",
            (newer, "from the future", NOW))
    with pytest.raises(SchemaError, match="install the newer Hearth release"):
        migrate(database)
    release_database()

    before = file_digests(layout.data_dir)
    for command in ("migrate", "check"):
        result = run_hearth(layout, command)
        assert result.returncode != 0
        assert "Traceback" not in result.stdout + result.stderr
    assert_one_line_failure(
        run_hearth(layout, "migrate"),
        f"the database has schema version {newer}, newer than this Hearth knows "
        f"({latest_version()}); install the newer Hearth release")
    after = file_digests(layout.data_dir)
    after.pop("hearth.lock")  # the empty lock file every process creates on open
    assert after == before


@pytest.mark.parametrize("version", [0, 1])
def test_creating_an_app_never_migrates(layout: Layout, version: int) -> None:
    """Does create_staff_app on an un-migrated database raise SchemaError asking for
    'hearth migrate', and leave the schema version where it was?"""
    from webapp import create_staff_app

    database = new_database(layout, version)
    with database.connection_context():
        SEEDERS[version](database)
    release_database()

    with pytest.raises(SchemaError, match="run 'hearth migrate'"):
        create_staff_app(Settings(layout=layout, testing=True))

    release_database()
    db.unlock(layout.database, keys.load_key(layout, keys.DATABASE_KEY))
    with db.connection_context():
        assert current_version(db) == version
        client_columns = {row[1] for row in db.execute_sql('PRAGMA table_info("client")')}
    assert "search_text" not in client_columns
