"""The `hearth` command as an administrator meets it: init, demo, check, users, settings."""

from __future__ import annotations

import json
import os
import re
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from appliance.config import Settings
from appliance.keys import ALL_KEYS, DATABASE_KEY, load_key
from appliance.migrations import latest_version
from appliance.paths import Layout
from appliance.storage import connect_raw
from tests.conftest import run_hearth
from tests.integration.conftest import (
    DEMO_SEED,
    assert_one_line_failure,
    file_digests,
    release_database,
    start_worker,
    stop_process,
)
from webapp.clients.demo import ANCHOR
from webapp.core.passwords import verify_password

CHECK_LINE = re.compile(r"^(?P<status>ok   |warn |fail ) (?P<name>[a-z][a-z ]*): (?P<detail>.+)$")
ROLES = {"admin", "clinician", "supervisor", "biller", "front_desk"}


def query(layout: Layout, sql: str) -> list[dict[str, Any]]:
    """Rows as dicts, read straight from the encrypted file with the key on disk."""
    conn = connect_raw(layout.database, load_key(layout, DATABASE_KEY))
    try:
        cursor = conn.execute(sql)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    finally:
        conn.close()


def without(rows: list[dict[str, Any]], *columns: str) -> list[dict[str, Any]]:
    return [{k: v for k, v in row.items() if k not in columns} for row in rows]


def practice_rows(layout: Layout) -> dict[str, list[dict[str, Any]]]:
    """What the demo wrote, minus the moments it ran and the per-run password salts."""
    return {
        "client": without(query(layout, "SELECT * FROM client ORDER BY id"),
                          "created_at", "updated_at"),
        "guardian": without(query(layout, "SELECT * FROM guardian ORDER BY id"), "created_at"),
        "insurance_policy": without(query(layout, "SELECT * FROM insurance_policy ORDER BY id"),
                                    "created_at"),
        "clinician_assignment": without(
            query(layout, "SELECT * FROM clinician_assignment ORDER BY id"), "assigned_at"),
        "staff_user": without(query(layout, "SELECT * FROM staff_user ORDER BY id"),
                              "created_at", "updated_at", "password_hash",
                              "password_changed_at", "mfa_enrolled_at"),
        "client_account": without(query(layout, "SELECT * FROM client_account ORDER BY id"),
                                  "created_at", "password_hash"),
        **{table: query(layout, f"SELECT * FROM {table} ORDER BY id") for table in
           ("appointment_type", "room", "appointment_client", "working_hours")},
        "appointment": without(query(layout, "SELECT * FROM appointment ORDER BY id"),
                               "created_at", "updated_at"),
        "series": without(query(layout, "SELECT * FROM series ORDER BY id"), "created_at"),
    }


def init(layout: Layout, **kwargs: Any) -> str:
    result = run_hearth(layout, "init", **kwargs)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return result.stdout


# --- init -------------------------------------------------------------------------------

def test_init_twice_is_safe(layout: Layout) -> None:
    """Does a second `hearth init` create no keys, keep the data and say what it did?"""
    first = init(layout)
    for name in ALL_KEYS:
        assert f"created key {layout.key_dir / name}" in first
    assert f"created encrypted database {layout.database}" in first
    added = run_hearth(layout, "users", "add", "jchen", "--name", "Julia Chen",
                       "--role", "clinician")
    assert added.returncode == 0, added.stderr
    before = file_digests(layout.data_dir)
    staff = query(layout, "SELECT * FROM staff_user")

    second = init(layout)
    assert "created" not in second and "wrote" not in second
    assert second.strip() == f"schema at version {latest_version()}; 0 step(s) applied"
    assert file_digests(layout.data_dir) == before
    assert query(layout, "SELECT * FROM staff_user") == staff


def test_files_are_private_whatever_the_umask(layout: Layout, demo_template: Layout,
                                              worker_processes: list) -> None:
    """Are all files 0600 and all directories 0700, even when started with umask 022?"""
    def permissive() -> None:
        os.umask(0o022)

    init(layout, preexec_fn=permissive)
    added = run_hearth(layout, "users", "add", "jchen", "--name", "Julia Chen",
                       "--role", "clinician", preexec_fn=permissive)
    assert added.returncode == 0, added.stderr
    worker = start_worker(layout, preexec_fn=permissive)
    worker_processes.append(worker)
    deadline = time.monotonic() + 30
    while not query(layout, "SELECT * FROM worker_heartbeat"):  # the queue is open by then
        assert time.monotonic() < deadline and worker.poll() is None, stop_process(worker)
        time.sleep(0.2)
    # Checked while the worker runs, so the queue's -wal and -shm files are there too.
    assert_private(layout.data_dir, "queue.db", "queue.db-wal", "queue.db-shm")
    stop_process(worker)
    assert_private(demo_template.data_dir, "demo-credentials.json")


def assert_private(data_dir: Path, *expected: str) -> None:
    paths = [data_dir, *data_dir.rglob("*")]
    assert {"hearth.db", "hearth.toml", "hearth.lock", *ALL_KEYS, *expected} <= {
        p.name for p in paths}
    for path in paths:
        mode = path.stat().st_mode & 0o777
        assert mode == (0o700 if path.is_dir() else 0o600), f"{path} is {mode:04o}"


# --- demo -------------------------------------------------------------------------------

def demo(layout: Layout, seed: int) -> dict[str, Any]:
    """A fresh `hearth init` + `hearth demo --seed N`; returns the demo sign-ins."""
    init(layout)
    result = run_hearth(layout, "demo", "--seed", str(seed))
    assert result.returncode == 0, result.stderr
    return json.loads(layout.demo_credentials.read_text())


def test_demo_is_deterministic_for_a_seed(demo_template: Layout, tmp_path: Path) -> None:
    """Do two fresh installations with the same seed get the same practice and sign-ins,
    and does another seed give a different one?"""
    same = Layout(data_dir=tmp_path / "same", config_dir=tmp_path / "same")
    other = Layout(data_dir=tmp_path / "other", config_dir=tmp_path / "other")
    same_credentials = demo(same, DEMO_SEED)
    other_credentials = demo(other, DEMO_SEED + 1)

    template_credentials = json.loads(demo_template.demo_credentials.read_text())
    assert same.demo_credentials.read_bytes() == demo_template.demo_credentials.read_bytes()
    assert same_credentials == template_credentials
    assert practice_rows(same) == practice_rows(demo_template)

    assert other_credentials != template_credentials
    template_clients = practice_rows(demo_template)["client"]
    other_clients = practice_rows(other)["client"]
    assert len(other_clients) == len(template_clients)
    assert sum(a != b for a, b in zip(other_clients, template_clients, strict=True)) > 140


def test_demo_schedule_is_populated_and_free_of_conflicts(demo_template: Layout) -> None:
    """Does the demo have the practice's appointment types, two rooms, working hours for
    every clinician, and a fortnight of appointments around ANCHOR (weekly series among
    them) with no clinician, room or client booked twice at once?"""
    kinds = {row["name"]: row for row in query(demo_template, "SELECT * FROM appointment_type")}
    assert {(k["cpt_code"], k["modality"], k["format"]) for k in kinds.values()} == {
        ("90837", "in_person", "individual"), ("90837", "video", "individual"),
        ("90791", "in_person", "individual"), ("90847", "in_person", "couples"),
        ("90853", "in_person", "group")}
    assert kinds["Individual 53+ min"]["duration_minutes"] == 53
    assert len(query(demo_template, "SELECT * FROM room")) == 2
    clinicians = query(demo_template, "SELECT id FROM staff_user WHERE roles LIKE '%clinician%'")
    hours = query(demo_template, "SELECT DISTINCT clinician_id FROM working_hours")
    assert {c["id"] for c in clinicians} == {h["clinician_id"] for h in hours}
    near = query(demo_template, f"SELECT * FROM appointment WHERE starts_at >= "
                 f"'{ANCHOR.replace(day=1).replace(month=ANCHOR.month - 1)}' AND starts_at < "
                 f"'{ANCHOR.replace(day=15)}'")
    assert len(near) > 100
    assert {a["clinician_id"] for a in near} == {c["id"] for c in clinicians}
    assert len(query(demo_template, "SELECT * FROM series")) >= 20
    assert {a["status"] for a in near} >= {"attended", "scheduled", "no_show"}
    for overlap in ("a.clinician_id = b.clinician_id", "a.room_id = b.room_id",
                    "ca.client_id = cb.client_id"):
        clashes = query(demo_template, f"""
            SELECT a.id FROM appointment a JOIN appointment b ON a.id < b.id
            JOIN appointment_client ca ON ca.appointment_id = a.id
            JOIN appointment_client cb ON cb.appointment_id = b.id
            WHERE {overlap} AND a.starts_at < b.ends_at AND b.starts_at < a.ends_at""")
        assert clashes == [], overlap


def test_demo_data_meets_the_spec(demo_template: Layout) -> None:
    """Does the demo have ≥8 staff across every role, 150 clients, a guardian for each
    minor, some insured and some self-pay, everyone on a clinician's caseload, and
    sign-ins that work?"""
    staff = query(demo_template, "SELECT * FROM staff_user")
    assert len(staff) >= 8
    assert set().union(*(set(s["roles"].split(",")) for s in staff)) == ROLES
    clinicians = {s["id"] for s in staff if "clinician" in s["roles"].split(",")}
    assert len(clinicians) >= 4

    clients = query(demo_template, "SELECT * FROM client")
    assert len(clients) == 150
    assert len({(c["legal_first_name"], c["legal_last_name"]) for c in clients}) > 100
    assert any(not c["legal_last_name"].isascii() or not c["legal_first_name"].isascii()
               for c in clients)
    guardians = query(demo_template, "SELECT * FROM guardian WHERE has_legal_authority = 1")
    guarded = {g["client_id"] for g in guardians}
    minors = {c["id"] for c in clients
              if (ANCHOR - date.fromisoformat(c["date_of_birth"])).days < 18 * 365}
    assert minors and minors <= guarded

    insured = {p["client_id"] for p in query(demo_template, "SELECT * FROM insurance_policy")}
    assert 0 < len(insured) < len(clients)
    assignments = query(demo_template, "SELECT * FROM clinician_assignment WHERE is_primary = 1")
    assert {a["client_id"] for a in assignments} == {c["id"] for c in clients}
    assert {a["clinician_id"] for a in assignments} <= clinicians
    assert all(c["search_text"] for c in clients)

    credentials = json.loads(demo_template.demo_credentials.read_text())
    hashes = {s["username"]: s["password_hash"] for s in staff}
    assert {c["username"] for c in credentials["staff"]} == set(hashes)
    assert all(verify_password(hashes[c["username"]], c["password"])
               for c in credentials["staff"][:2])
    assert len(credentials["portal"]) == 5


def test_demo_refuses_a_database_with_staff(demo_layout: Layout) -> None:
    """Does `hearth demo` on an installation that already has staff refuse in one line
    and change nothing?"""
    before = file_digests(demo_layout.data_dir)
    result = run_hearth(demo_layout, "demo", "--clients", "30")
    assert_one_line_failure(result, "this database already has staff accounts; demo data "
                                    "goes only into a new, empty installation")
    assert file_digests(demo_layout.data_dir) == before


# --- check ------------------------------------------------------------------------------

def test_check_on_a_fresh_installation(layout: Layout) -> None:
    """Does `hearth check` print one ok/warn/fail line per check and exit 0 on a fresh
    init, with the never-run worker as a warning?"""
    init(layout)
    result = run_hearth(layout, "check")
    assert result.returncode == 0, result.stdout
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    matches = [CHECK_LINE.match(line) for line in lines]
    assert all(matches), lines
    names = [m["name"] for m in matches if m]
    assert names == ["key files", "database opens with the key", "database integrity",
                     "disk space", "worker heartbeat", "business associate agreements",
                     "audit alerts"]
    assert lines[-3] == "warn  worker heartbeat: the worker has never run"
    assert lines[-2] == ("ok    business associate agreements: every configured service "
                         "has a current BAA")
    assert lines[-1] == "ok    audit alerts: nothing needs attention"
    assert not any(line.startswith("fail") for line in lines)

    as_json = run_hearth(layout, "check", "--json")
    assert as_json.returncode == 0
    results = json.loads(as_json.stdout)
    assert [r["name"] for r in results] == names
    assert {r["status"] for r in results} <= {"ok", "warn"}


# --- users ------------------------------------------------------------------------------

def test_users_add_and_duplicate(layout: Layout) -> None:
    """Does `hearth users add` create a working account, and does a duplicate username
    (in any case) get one clear line and add nothing?"""
    init(layout)
    result = run_hearth(layout, "users", "add", "JChen", "--name", "Julia Chen",
                        "--role", "clinician", "--role", "supervisor")
    assert result.returncode == 0, result.stderr
    match = re.fullmatch(r"created JChen; first password \(shown once\): (\S+)\n", result.stdout)
    assert match, result.stdout
    [user] = query(layout, "SELECT * FROM staff_user")
    assert (user["username"], user["full_name"], user["roles"]) == (
        "jchen", "Julia Chen", "clinician,supervisor")
    assert verify_password(user["password_hash"], match.group(1))
    audit = query(layout, "SELECT * FROM audit_entry")
    assert [(a["action"], a["object_type"], a["object_id"]) for a in audit] == [
        ("create", "staff_user", user["id"])]

    duplicate = run_hearth(layout, "users", "add", " jchen ", "--name", "Someone Else",
                           "--role", "admin")
    assert_one_line_failure(duplicate, "there is already a staff account named 'jchen'")
    assert duplicate.stdout == ""
    assert query(layout, "SELECT * FROM staff_user") == [user]
    assert query(layout, "SELECT * FROM audit_entry") == audit

    unknown_role = run_hearth(layout, "users", "add", "x", "--name", "X", "--role", "root")
    assert unknown_role.returncode == 2
    assert "Traceback" not in unknown_role.stderr
    assert "Invalid value for '--role'" in unknown_role.stderr


# --- settings ---------------------------------------------------------------------------

@pytest.mark.parametrize(("port", "expected"), [
    ("eighty", "HEARTH_STAFF_PORT must be a port number, not 'eighty'"),
    ("-1", "HEARTH_STAFF_PORT must be a port number, not '-1'"),
    ("70000", "staff_port must be between 1 and 65535, not 70000"),
    ("8001", "the staff app and the portal need different ports"),
])
def test_bad_staff_port_is_a_clear_error(settings: Settings, port: str, expected: str) -> None:
    """Does a bad HEARTH_STAFF_PORT stop the command with one clear line?"""
    release_database()
    for command in ("check", "serve staff"):
        result = run_hearth(settings.layout, *command.split(), env={"HEARTH_STAFF_PORT": port})
        assert_one_line_failure(result, expected)


@pytest.mark.parametrize(("content", "expected"), [
    ("practice_name = \n", "{config} is not valid TOML: "),
    ("practice_name = \"Hearth\"\nstaff_port = \"eighty\"\n",
     "setting 'staff_port' must be int, not 'eighty'"),
    ("behind_tls = 1\n", "setting 'behind_tls' must be bool, not 1"),
    ("colour = \"blue\"\n", "unknown setting 'colour' in {config}"),
    ("timezone = \"Mars/Olympus_Mons\"\n", "unknown time zone 'Mars/Olympus_Mons'"),
    ("web_workers = 0\n", "web_workers and web_threads must be at least 1"),
    (b"practice_name = \"Caf\xe9\"\n", "{config} is not valid TOML: "),
])
def test_invalid_settings_file_is_a_clear_error(settings: Settings, content: str | bytes,
                                                expected: str) -> None:
    """Does a broken hearth.toml stop the command with one clear line, and stay as it was?"""
    release_database()
    config = settings.layout.config_file
    if isinstance(content, bytes):
        config.write_bytes(content)
    else:
        config.write_text(content, encoding="utf-8")
    before = config.read_bytes()
    # Every command that reads the settings goes through Settings.load; check is one.
    result = run_hearth(settings.layout, "check")
    assert_one_line_failure(result, expected.format(config=config))
    assert config.read_bytes() == before
