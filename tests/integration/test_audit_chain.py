"""The keyed audit chain: tampering with any single entry is found and named by the real
`hearth audit verify`; pruning, checkpoints, concurrent appends, keys and the pre-chain seal."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from appliance import keys, storage
from appliance.migrations import migrate
from appliance.paths import Layout
from tests.conftest import ROOT, run_hearth
from tests.integration.web.conftest import _cheap_password_hashes, add_client, signed_in  # noqa: F401
from webapp.audit import chain, checkpoints
from webapp.audit.service import record

CHART_VIEWS = 300


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Layout:
    """A practice whose trail (a few hundred entries) was written through the staff app."""
    from tests.conftest import initialize
    from webapp import create_staff_app

    data = tmp_path_factory.mktemp("trail") / "var"
    layout = Layout(data_dir=data, config_dir=data)
    app = create_staff_app(initialize(layout))
    client_ids = [add_client(f"Person{n}", "Chain").id for n in range(3)]
    browser = signed_in(app, "frosa", ["front_desk"], "Fran Rosa")
    for n in range(CHART_VIEWS):
        assert browser.get(f"/clients/{client_ids[n % 3]}").status_code == 200
    storage.db.close()
    storage.release_shared_lock()
    return layout


@pytest.fixture
def trail(template: Layout, tmp_path: Path) -> Layout:
    """A private copy of the template practice, to tamper with."""
    data = tmp_path / "var"
    shutil.copytree(template.data_dir, data)
    return Layout(data_dir=data, config_dir=data)


def sql(layout: Layout, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Run one statement straight on the database, as someone with the database key could."""
    database = storage.open_database(layout, check_schema=False)
    with database.connection_context():
        rows = list(database.execute_sql(statement, params).fetchall())
    database.close()
    return rows


def ids(layout: Layout) -> list[int]:
    return [row[0] for row in sql(layout, "SELECT id FROM audit_entry ORDER BY id")]


def verify_cli(layout: Layout, *args: str) -> subprocess.CompletedProcess[str]:
    storage.release_shared_lock()
    return run_hearth(layout, "audit", "verify", *args)


def assert_broken(layout: Layout, entry_id: int, *kinds: str) -> str:
    """`hearth audit verify` fails and names `entry_id` first, as one of `kinds`."""
    result = verify_cli(layout)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert f"first broken entry {entry_id};" in lines[-1], result.stdout
    assert any(line.startswith(tuple(f"{kind}: " for kind in kinds))
               and f"entry {entry_id}" in line for line in lines), result.stdout
    return result.stdout


def test_a_trail_written_through_the_app_verifies(trail: Layout) -> None:
    entries = ids(trail)
    assert len(entries) > CHART_VIEWS
    actions = {row[0] for row in sql(trail, "SELECT DISTINCT action FROM audit_entry")}
    assert {"view", "create", "login"} <= actions
    assert not sql(trail, "SELECT id FROM audit_entry WHERE length(mac) != 64")
    result = verify_cli(trail)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith(f"audit chain intact: {len(entries)} entries, head ")
    report = json.loads(verify_cli(trail, "--json").stdout)
    assert report["ok"] is True and report["entries"] == len(entries)
    assert report["last_id"] == entries[-1] and report["first_broken_id"] is None
    last = checkpoints.last_verification(trail)
    assert last is not None and last["ok"] is True and last["entries"] == len(entries)


FIELD_EDITS = {
    "occurred_at": "occurred_at = datetime(occurred_at, '+1 second')",
    "actor_kind": "actor_kind = 'system'",
    "actor_id": "actor_id = coalesce(actor_id, 0) + 1",
    "actor_role": "actor_role = 'admin'",
    "action": "action = 'update'",
    "object_type": "object_type = 'note'",
    "object_id": "object_id = coalesce(object_id, 0) + 1",
    "client_id": "client_id = NULL",
    "source_address": "source_address = '10.9.9.9'",
    "request_id": "request_id = 'forged'",
    "outcome": "outcome = 'denied'",
}


@pytest.mark.parametrize("field", sorted(FIELD_EDITS))
def test_changing_any_field_of_one_entry_is_found_and_named(trail: Layout, field: str) -> None:
    target = ids(trail)[150]
    sql(trail, f"UPDATE audit_entry SET {FIELD_EDITS[field]} WHERE id = ?", (target,))
    assert_broken(trail, target, "edited")


def test_renumbering_an_entry_is_found(trail: Layout) -> None:
    entries = ids(trail)
    target = entries[100]
    sql(trail, "UPDATE audit_entry SET id = ? WHERE id = ?", (entries[-1] + 50, target))
    output = assert_broken(trail, target + 1, "deleted")
    assert f"entry {target} was removed" in output


def test_deleting_an_entry_in_the_middle_is_found(trail: Layout) -> None:
    target = ids(trail)[120]
    sql(trail, "DELETE FROM audit_entry WHERE id = ?", (target,))
    output = assert_broken(trail, target + 1, "deleted")
    assert f"entry {target} was removed before entry {target + 1}" in output


def test_deleting_the_last_entry_is_caught_by_the_checkpoint(trail: Layout) -> None:
    assert run_hearth(trail, "audit", "checkpoint").returncode == 0
    last = ids(trail)[-1]
    sql(trail, "DELETE FROM audit_entry WHERE id = ?", (last,))
    assert_broken(trail, last, "truncated")


def test_the_checkpoint_file_catches_a_truncation_the_database_hides(trail: Layout) -> None:
    assert run_hearth(trail, "audit", "checkpoint").returncode == 0
    last = ids(trail)[-1]
    # Whoever cut the end off also removed the checkpoint rows that would tell.
    sql(trail, "DELETE FROM audit_entry WHERE id >= ?", (last - 4,))
    sql(trail, "DELETE FROM audit_checkpoint")
    assert_broken(trail, last - 4, "truncated")


def _copy_entry(layout: Layout, source: int, new_id: int, mac: str | None = None) -> None:
    columns = ", ".join(chain.FIELDS[1:])
    sql(layout, f"INSERT INTO audit_entry (id, {columns}, mac) SELECT ?, {columns}, "
                "coalesce(?, mac) FROM audit_entry WHERE id = ?", (new_id, mac, source))


def test_a_forged_entry_at_the_end_is_found(trail: Layout) -> None:
    last = ids(trail)[-1]
    _copy_entry(trail, last, last + 1, mac="ab" * 32)
    sql(trail, "UPDATE audit_entry SET action = 'export' WHERE id = ?", (last + 1,))
    output = assert_broken(trail, last + 1, "broken")
    assert "changed, inserted or removed near here" in output


def test_a_copied_entry_at_the_end_is_found_as_inserted(trail: Layout) -> None:
    last = ids(trail)[-1]
    _copy_entry(trail, last, last + 1)
    output = assert_broken(trail, last + 1, "inserted")
    assert f"entry {last + 1} is a copy of entry {last}" in output


def test_an_entry_inserted_in_the_middle_is_found(trail: Layout) -> None:
    target = ids(trail)[80]
    # Make room after entry `target` by moving the rest up, then slip a forged entry in.
    sql(trail, "UPDATE audit_entry SET id = id + 1000000 WHERE id > ?", (target,))
    sql(trail, "UPDATE audit_entry SET id = id - 999999 WHERE id > 1000000")
    _copy_entry(trail, target, target + 1, mac="cd" * 32)
    output = assert_broken(trail, target + 1, "broken")
    # Every entry after it was renumbered, and each one says so.
    assert f"reordered: entry {target + 2} holds the content and mac of entry {target + 1}" \
        in output


def _swap(layout: Layout, a: int, b: int, with_mac: bool) -> None:
    columns = [*chain.FIELDS[1:], *(["mac"] if with_mac else [])]
    first, second = (sql(layout, f"SELECT {', '.join(columns)} FROM audit_entry WHERE id = ?",
                         (entry,))[0] for entry in (a, b))
    assignments = ", ".join(f"{column} = ?" for column in columns)
    for entry, values in ((a, second), (b, first)):
        sql(layout, f"UPDATE audit_entry SET {assignments} WHERE id = ?", (*values, entry))


@pytest.mark.parametrize("distance", [1, 5])
def test_swapping_two_entries_is_found_as_reordering(trail: Layout, distance: int) -> None:
    entries = ids(trail)
    a, b = entries[200], entries[200 + distance]
    _swap(trail, a, b, with_mac=True)
    assert_broken(trail, a, "reordered")


def test_swapping_contents_but_not_macs_is_found(trail: Layout) -> None:
    entries = ids(trail)
    a, b = entries[10], entries[250]
    _swap(trail, a, b, with_mac=False)
    output = assert_broken(trail, a, "edited")
    assert f"edited: entry {b} was changed" in output


def test_blanking_a_mac_is_found_as_unsealed(trail: Layout) -> None:
    target = ids(trail)[33]
    sql(trail, "UPDATE audit_entry SET mac = '' WHERE id = ?", (target,))
    assert_broken(trail, target, "unsealed")
    # `hearth migrate` seals only entries from before the chain, never a blanked one.
    assert run_hearth(trail, "migrate").returncode == 0
    assert_broken(trail, target, "unsealed")


def test_the_console_sees_a_failed_verification(trail: Layout) -> None:
    target = ids(trail)[5]
    sql(trail, "UPDATE audit_entry SET outcome = 'denied' WHERE id = ?", (target,))
    assert verify_cli(trail).returncode == 1
    last = chain.last_verification(trail)
    assert last is not None and last["ok"] is False and last["first_broken_id"] == target
    assert last["verified_at"].endswith("Z")


def test_unusual_text_verifies_and_a_planted_blob_is_found(staff_app: Flask) -> None:
    """Text with quotes, escapes or non-ASCII takes verification's exact path; a value of
    a type no entry can hold is a broken link, and the rest of the walk goes on."""
    from webapp.audit.verify import verify

    with storage.db.connection_context():
        odd = record("view", object_type='cl"ient\\\n', actor_kind="system",
                     actor_role="thérapeute ☂")
        plain = [record("view", actor_kind="system") for _ in range(3)]
        assert verify(storage.db, chain.audit_key()).ok
        storage.db.execute_sql("UPDATE audit_entry SET request_id = X'00ff' WHERE id = ?",
                               (plain[1],))
        storage.db.execute_sql("UPDATE audit_entry SET actor_role = 'therapeute' WHERE id = ?",
                               (odd,))
        report = verify(storage.db, chain.audit_key())
    assert not report.ok and report.first_broken_id == odd
    assert [(f.kind, f.entry_id) for f in report.findings] == [("edited", odd),
                                                               ("edited", plain[1])]


# -- pruning ----------------------------------------------------------------------------

def test_the_chain_still_verifies_after_pruning_and_keeps_growing(trail: Layout) -> None:
    entries = ids(trail)
    storage.open_database(trail)
    with storage.db.connection_context():
        checkpoint = chain.prune_before(entries[99])
        assert (checkpoint.kind, checkpoint.entry_id, checkpoint.entry_count) == (
            "prune", entries[99], 100)
        for n in range(5):
            record("view", object_type="client", object_id=n, client_id=n, actor_kind="system")
    storage.db.close()
    assert ids(trail)[0] == entries[100] and ids(trail)[-1] == entries[-1] + 5
    result = verify_cli(trail)
    assert result.returncode == 0, result.stdout
    assert f"audit chain intact: {len(entries) + 5} entries" in result.stdout
    # Deleting the prune checkpoint does not let a forged start through: the file has it.
    sql(trail, "DELETE FROM audit_checkpoint")
    assert verify_cli(trail).returncode == 0
    trail.audit_checkpoints.unlink()
    assert_broken(trail, entries[100], "deleted")


def test_pruning_everything_then_appending_continues_the_chain(trail: Layout) -> None:
    entries = ids(trail)
    storage.open_database(trail)
    with storage.db.connection_context():
        chain.prune_before(entries[-1])
        assert not storage.db.execute_sql("SELECT id FROM audit_entry").fetchall()
        new_id = record("login", actor_kind="system")
    storage.db.close()
    assert new_id == entries[-1] + 1  # never reuses an id of a pruned entry
    assert verify_cli(trail).returncode == 0


def test_pruning_refuses_to_destroy_the_evidence_of_tampering(trail: Layout) -> None:
    entries = ids(trail)
    storage.open_database(trail)
    with storage.db.connection_context(), pytest.raises(checkpoints.CheckpointError,
                                                        match="no audit entry"):
        chain.prune_before(entries[-1] + 10)
    storage.db.close()
    sql(trail, "UPDATE audit_entry SET actor_id = 99 WHERE id = ?", (entries[20],))
    storage.open_database(trail)
    with storage.db.connection_context(), pytest.raises(checkpoints.CheckpointError,
                                                        match=f"broken at entry {entries[20]}"):
        chain.prune_before(entries[50])
    storage.db.close()
    assert ids(trail) == entries
    assert not sql(trail, "SELECT id FROM audit_checkpoint")


# -- checkpoints ------------------------------------------------------------------------

def test_a_checkpoint_goes_to_the_database_the_log_and_the_file(trail: Layout) -> None:
    result = run_hearth(trail, "audit", "checkpoint")
    assert result.returncode == 0, result.stderr
    entries = ids(trail)
    head = sql(trail, "SELECT mac FROM audit_entry WHERE id = ?", (entries[-1],))[0][0]
    line = f"hearth audit checkpoint entry={entries[-1]} count={len(entries)} mac={head}"
    if not Path("/dev/log").exists():  # else it went to the system log
        assert line in result.stderr
    stored = sql(trail, "SELECT kind, entry_id, mac, entry_count FROM audit_checkpoint")
    assert stored == [("manual", entries[-1], head, len(entries))]
    data = json.loads(trail.audit_checkpoints.read_text())
    assert [(c["kind"], c["entry_id"], c["mac"]) for c in data["checkpoints"]] == [
        ("manual", entries[-1], head)]
    assert trail.audit_checkpoints.stat().st_mode & 0o777 == 0o600


def test_the_file_keeps_the_last_fifty_checkpoints(trail: Layout) -> None:
    from webapp.audit.tasks import hourly_audit_checkpoint

    storage.open_database(trail)
    for _ in range(checkpoints.KEEP_IN_FILE + 3):
        hourly_audit_checkpoint.call_local()
    storage.db.close()
    kept = checkpoints.read_file(trail.audit_checkpoints)
    assert len(kept) == checkpoints.KEEP_IN_FILE and {c.kind for c in kept} == {"hourly"}
    assert len(sql(trail, "SELECT id FROM audit_checkpoint")) == checkpoints.KEEP_IN_FILE + 3
    assert verify_cli(trail).returncode == 0


def test_a_forged_checkpoint_is_reported(trail: Layout) -> None:
    last = ids(trail)[-1]
    sql(trail, "INSERT INTO audit_checkpoint (kind, entry_id, mac, entry_count, created_at, "
               "signature) VALUES ('prune', ?, ?, 10, '2026-01-01 00:00:00', ?)",
        (last - 10, "cd" * 32, "ef" * 32))
    result = verify_cli(trail)
    assert result.returncode == 1
    assert "forged_checkpoint: checkpoint #1 (prune at entry" in result.stdout
    assert "audit chain BROKEN: forged checkpoint" in result.stdout


def test_an_edited_checkpoint_file_is_reported(trail: Layout) -> None:
    assert run_hearth(trail, "audit", "checkpoint").returncode == 0
    data = json.loads(trail.audit_checkpoints.read_text())
    data["checkpoints"][0]["entry_count"] -= 1
    trail.audit_checkpoints.write_text(json.dumps(data))
    result = verify_cli(trail)
    assert result.returncode == 1
    assert "forged_checkpoint: the checkpoint file (manual at entry" in result.stdout
    trail.audit_checkpoints.write_text("{not json")
    result = verify_cli(trail)
    assert result.returncode == 1 and "checkpoint_file: the audit checkpoint file" in result.stdout


# -- processes and keys -----------------------------------------------------------------

APPENDER = textwrap.dedent("""
    import sys
    import time
    from pathlib import Path
    from appliance import storage
    from appliance.paths import Layout
    from webapp.audit.models import AuditEntry
    from webapp.audit.service import record
    data = Path(sys.argv[1])
    me, other = int(sys.argv[2]), 3 - int(sys.argv[2])
    storage.open_database(Layout(data_dir=data, config_dir=data))
    sys.stdin.readline()  # start together
    with storage.db.connection_context():
        for n in range(200):
            if n == 100:
                # Halfway, wait for the other writer's first entry, so the two runs
                # overlap however the machine schedules them.
                deadline = time.monotonic() + 60
                while not AuditEntry.select().where(
                        (AuditEntry.actor_kind == "system")
                        & (AuditEntry.actor_id == other)).exists():
                    assert time.monotonic() < deadline, "the other writer never started"
                    time.sleep(0.01)
            record("view", object_type="client", object_id=n, actor_kind="system",
                   actor_id=me)
""")


def test_two_processes_appending_at_once_make_one_valid_chain(trail: Layout) -> None:
    before = len(ids(trail))
    storage.release_shared_lock()
    writers = [subprocess.Popen([sys.executable, "-c", APPENDER, str(trail.data_dir), str(n)],
                                stdin=subprocess.PIPE, cwd=ROOT, text=True) for n in (1, 2)]
    for writer in writers:
        assert writer.stdin is not None
        writer.stdin.write("go\n")
        writer.stdin.close()
    assert [writer.wait(timeout=120) for writer in writers] == [0, 0]
    rows = sql(trail, "SELECT actor_id, count(*) FROM audit_entry WHERE actor_kind = 'system' "
                      "AND actor_id IN (1, 2) GROUP BY actor_id")
    assert rows == [(1, 200), (2, 200)]
    interleaved = [row[0] for row in sql(
        trail, "SELECT actor_id FROM audit_entry WHERE actor_kind = 'system' "
               "AND actor_id IN (1, 2) ORDER BY id")]
    assert interleaved != sorted(interleaved)  # they really ran at the same time
    result = verify_cli(trail)
    assert result.returncode == 0, result.stdout
    assert f"audit chain intact: {before + 400} entries" in result.stdout


def _replace_audit_key(layout: Layout) -> None:
    path = keys.key_path(layout, keys.AUDIT_KEY)
    path.unlink()
    keys.create_key(layout, keys.AUDIT_KEY)


def test_a_wrong_audit_key_is_one_clear_line(trail: Layout) -> None:
    _replace_audit_key(trail)
    result = verify_cli(trail)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "hearth: the audit key does not match this audit trail: not one entry or checkpoint "
        "verifies with it (restore the right audit.key; if it is right, every entry was "
        "replaced)"]


def test_a_missing_audit_key_is_one_clear_line_and_nothing_is_recorded(trail: Layout) -> None:
    path = keys.key_path(trail, keys.AUDIT_KEY)
    path.unlink()
    result = verify_cli(trail)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"hearth: the key file {path} does not exist; run 'hearth init' to set up a new "
        "installation, or restore the key from the backup of your keys"]
    # The apps refuse to start, and record() writes nothing without the key.
    from appliance.config import Settings
    from webapp import create_staff_app

    chain.forget_keys()
    with pytest.raises(keys.KeyFileError, match=r"audit\.key does not exist"):
        create_staff_app(Settings(layout=trail, testing=True))
    before = len(ids(trail))
    storage.open_database(trail)
    with storage.db.connection_context(), pytest.raises(keys.KeyFileError):
        record("view", object_type="client", object_id=1, actor_kind="system")
    storage.db.close()
    assert len(ids(trail)) == before
    # `hearth migrate` does not make a new key for a chain that already began.
    assert run_hearth(trail, "migrate").returncode == 2
    assert not path.exists()


# -- migrating an installation from before the chain ------------------------------------

def _pre_chain_installation(layout: Layout) -> list[int]:
    """A version-5 database (no mac column) with entries, and no audit key yet."""
    layout.data_dir.mkdir(parents=True)
    keys.ensure_keys(layout)
    keys.key_path(layout, keys.AUDIT_KEY).unlink()
    database = storage.open_database(layout, create=True, check_schema=False)
    migrate(database, target=5)
    with database.atomic():
        for n in range(40):
            database.execute_sql(
                "INSERT INTO audit_entry (occurred_at, actor_kind, actor_id, actor_role, action, "
                "object_type, object_id, client_id, source_address, request_id, outcome) "
                "VALUES (?, 'staff', 3, 'clinician', 'view', 'client', ?, ?, '127.0.0.1', "
                "'r', 'success')", (f"2025-01-01 10:00:{n:02d}", n, n))
    database.close()
    storage.release_shared_lock()
    return ids(layout)


def test_migrate_seals_entries_written_before_the_chain(layout: Layout) -> None:
    entries = _pre_chain_installation(layout)
    result = run_hearth(layout, "migrate")
    assert result.returncode == 0, result.stderr
    assert "created key" in result.stdout and "audit.key" in result.stdout
    assert "sealed 40 audit entries written before the audit chain" in result.stdout
    assert ids(layout) == entries
    assert verify_cli(layout).returncode == 0
    macs = sql(layout, "SELECT mac FROM audit_entry ORDER BY id")
    again = run_hearth(layout, "migrate")
    assert again.returncode == 0 and "sealed" not in again.stdout  # idempotent
    assert sql(layout, "SELECT mac FROM audit_entry ORDER BY id") == macs
    # New entries continue the sealed chain.
    storage.open_database(layout)
    with storage.db.connection_context():
        record("login", actor_kind="system")
    storage.db.close()
    assert verify_cli(layout).returncode == 0


def test_init_on_an_existing_pre_chain_database_seals_it(layout: Layout) -> None:
    _pre_chain_installation(layout)
    result = run_hearth(layout, "init")
    assert result.returncode == 0, result.stderr
    assert "sealed 40 audit entries" in result.stdout
    assert verify_cli(layout).returncode == 0


def test_record_fails_closed_without_an_open_layout(settings: Any) -> None:
    storage.db.unlock(settings.layout.database, keys.load_key(settings.layout, keys.DATABASE_KEY))
    with storage.db.connection_context(), pytest.raises(chain.AuditKeyError):
        record("view", actor_kind="system")
    with storage.db.connection_context():
        assert storage.db.execute_sql("SELECT count(*) FROM audit_entry").fetchone()[0] == 0


def test_entries_from_the_app_inside_a_service_transaction_chain(staff_app: Flask) -> None:
    """Entries recorded inside a service's own transaction, and a rolled-back one, chain."""
    from webapp.audit.verify import verify

    add_client("Rollback", "Case")
    with storage.db.connection_context():
        with pytest.raises(RuntimeError), storage.db.atomic():
            record("view", actor_kind="system")
            raise RuntimeError("the service failed after recording")
        record("view", actor_kind="system")
        report = verify(storage.db, chain.audit_key())
    assert report.ok and report.entries >= 2, report.findings

