"""A broken key or database file: the real `hearth` command says what is wrong in one
line, exits non-zero, and never writes over what it found."""

from __future__ import annotations

import os
import secrets
import shutil
import sqlite3
import tempfile
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest

from appliance.keys import DATABASE_KEY, load_key
from appliance.paths import Layout
from appliance.storage import PAGE_SIZE, connect_raw
from tests.conftest import run_hearth
from tests.integration.conftest import (
    NOBODY,
    assert_one_line_failure,
    chown_tree,
    copy_data_dir,
    drop_file_override_capabilities,
    file_digests,
    nobody_can_run_python,
)


def db_key(layout: Layout) -> Path:
    return layout.key_dir / DATABASE_KEY


def write_key_text(layout: Layout, text: str) -> None:
    path = db_key(layout)
    path.write_text(text, encoding="ascii")
    os.chmod(path, 0o600)


def wrong_key(layout: Layout) -> None:
    write_key_text(layout, secrets.token_hex(32) + "\n")


def missing_key(layout: Layout) -> None:
    db_key(layout).unlink()


def empty_key(layout: Layout) -> None:
    write_key_text(layout, "")


def non_hex_key(layout: Layout) -> None:
    write_key_text(layout, "zq" * 32 + "\n")


def short_key(layout: Layout) -> None:
    write_key_text(layout, "abcdef0123\n")


def world_readable_key(layout: Layout) -> None:
    os.chmod(db_key(layout), 0o644)


def garbage_first_page(layout: Layout) -> None:
    with layout.database.open("r+b") as handle:
        handle.write(os.urandom(PAGE_SIZE))


def truncated_database(layout: Layout) -> None:
    size = layout.database.stat().st_size
    os.truncate(layout.database, size // 2 + 1000)  # mid-page, as a cut-off copy would be


def plaintext_database(layout: Layout) -> None:
    layout.database.unlink()
    with closing(sqlite3.connect(layout.database)) as plain:
        plain.execute("CREATE TABLE client (id INTEGER PRIMARY KEY, legal_last_name TEXT)")
        plain.execute("INSERT INTO client (legal_last_name) VALUES ('Plaintext')")
        plain.commit()


def missing_database(layout: Layout) -> None:
    layout.database.unlink()


DAMAGE: list[tuple[str, Callable[[Layout], None], str]] = [
    ("wrong key", wrong_key, "the database key does not match this database"),
    ("missing key", missing_key, "does not exist; run 'hearth init' to set up a new installation"),
    ("empty key", empty_key, "is empty; refusing to open the database without a key"),
    ("non-hex key", non_hex_key, "holds characters that are not hex"),
    ("short key", short_key, "must hold 64 hex digits, it holds 10"),
    ("key mode 0644", world_readable_key, "is readable by others (mode 0644); run 'chmod 600 "),
    ("page 1 overwritten", garbage_first_page,
     "the start of the file is damaged: restore a backup"),
    ("truncated database", truncated_database, "is damaged (database disk image is malformed)"),
    ("plaintext sqlite file", plaintext_database,
     "is a plain, unencrypted SQLite file; Hearth refuses to use it"),
    ("database missing", missing_database, "there is no database at"),
]


@pytest.mark.parametrize(("damage", "expected"), [(d[1], d[2]) for d in DAMAGE],
                         ids=[d[0] for d in DAMAGE])
def test_damage_gives_one_clear_line_and_changes_nothing(
        demo_layout: Layout, damage: Callable[[Layout], None], expected: str) -> None:
    """Does each broken key or database give one clear line from `hearth migrate`,
    fail `hearth check` with the same message, and leave every file as it was?"""
    damage(demo_layout)
    database_existed = demo_layout.database.exists()
    before = file_digests(demo_layout.data_dir)

    migrate = run_hearth(demo_layout, "migrate")
    assert_one_line_failure(migrate, expected)

    check = run_hearth(demo_layout, "check")
    assert check.returncode == 1, check.stdout
    assert check.stderr == ""
    assert "Traceback" not in check.stdout
    lines = {line.split(":", 1)[0]: line for line in check.stdout.splitlines()}
    for name in ("database opens with the key", "database integrity", "worker heartbeat"):
        assert lines[f"fail  {name}"].endswith(migrate.stderr.strip().removeprefix("hearth: "))

    assert file_digests(demo_layout.data_dir) == before
    assert demo_layout.database.exists() == database_existed
    assert not demo_layout.database.with_name("hearth.db-wal").exists()


def test_missing_database_is_not_created(demo_layout: Layout) -> None:
    """Does opening a data dir whose database is gone leave it gone, with no new files?"""
    missing_database(demo_layout)
    names_before = sorted(p.name for p in demo_layout.data_dir.iterdir())
    for command in ("migrate", "check", "demo", "worker"):
        result = run_hearth(demo_layout, command)
        assert result.returncode != 0
        assert "Traceback" not in result.stderr
    assert sorted(p.name for p in demo_layout.data_dir.iterdir()) == names_before
    assert not any(p.name.startswith("hearth.db") for p in demo_layout.data_dir.iterdir())


def client_root_page(layout: Layout) -> int:
    conn = connect_raw(layout.database, load_key(layout, DATABASE_KEY))
    try:
        row = conn.execute(
            "SELECT rootpage FROM sqlite_master WHERE type = 'table' AND name = 'client'"
        ).fetchone()
    finally:
        conn.close()
    return int(row[0])


def test_corrupt_middle_page_fails_the_integrity_check(demo_layout: Layout) -> None:
    """Is a damaged page that opening never reads (the client table's) caught by
    `hearth check`'s integrity checks, with the page named, and left unrepaired?"""
    page = client_root_page(demo_layout)
    page_count = demo_layout.database.stat().st_size // PAGE_SIZE
    assert 1 < page < page_count
    with demo_layout.database.open("r+b") as handle:
        handle.seek((page - 1) * PAGE_SIZE + 1024)
        handle.write(os.urandom(256))
    before = file_digests(demo_layout.data_dir)

    check = run_hearth(demo_layout, "check")
    assert check.returncode == 1
    assert check.stderr == ""
    assert "Traceback" not in check.stdout
    assert "ok    database opens with the key" in check.stdout
    integrity = next(line for line in check.stdout.splitlines()
                     if line.startswith("fail  database integrity: "))
    assert f"cipher_integrity_check: HMAC verification failed for page {page}" in integrity

    assert file_digests(demo_layout.data_dir) == before


def test_unreadable_key_file(demo_template: Layout, tmp_path: Path) -> None:
    """Does a key file the service user cannot read give one clear line and change nothing?

    As root (CI), the command runs as nobody with the key file root-owned 0600; if
    nobody cannot start this interpreter, it runs as root without the capabilities
    that let root read any file, against a key file with mode 0000.
    """
    scratch: Path | None = None
    how: dict[str, object] = {}
    if os.geteuid() == 0 and nobody_can_run_python():
        # tmp_path sits under a root-only directory nobody cannot enter.
        scratch = Path(tempfile.mkdtemp(prefix="hearth-nobody-"))
        layout = Layout(data_dir=scratch / "var", config_dir=scratch / "var")
        copy_data_dir(demo_template, layout)
        chown_tree(scratch, NOBODY, NOBODY)
        os.chown(db_key(layout), 0, 0)
        os.chmod(db_key(layout), 0o600)
        how = {"user": NOBODY, "group": NOBODY, "extra_groups": []}
    else:
        layout = Layout(data_dir=tmp_path / "var", config_dir=tmp_path / "var")
        copy_data_dir(demo_template, layout)
        if os.geteuid() == 0:
            how = {"preexec_fn": drop_file_override_capabilities}
    try:
        before = file_digests(layout.data_dir)
        if scratch is None:
            os.chmod(db_key(layout), 0o000)
        try:
            result = run_hearth(layout, "migrate", **how)
        finally:
            os.chmod(db_key(layout), 0o600)
        assert_one_line_failure(
            result, f"cannot read the key file {db_key(layout)}: permission denied")
        assert file_digests(layout.data_dir) == before
    finally:
        if scratch is not None:
            shutil.rmtree(scratch)


def test_init_with_wrong_key_refuses(demo_layout: Layout) -> None:
    """Does `hearth init` on an existing database with the wrong key refuse and change nothing?"""
    wrong_key(demo_layout)
    before = file_digests(demo_layout.data_dir)
    result = run_hearth(demo_layout, "init")
    assert_one_line_failure(result, "the database key does not match this database")
    assert result.stdout == ""
    assert file_digests(demo_layout.data_dir) == before


@pytest.mark.parametrize("which", ["database key", "every key"])
def test_init_never_regenerates_a_missing_key(demo_layout: Layout, which: str) -> None:
    """Does `hearth init` refuse to make a new key over an existing database?"""
    for path in demo_layout.key_dir.iterdir():
        if which == "every key" or path.name == DATABASE_KEY:
            path.unlink()
    before = file_digests(demo_layout.data_dir)
    result = run_hearth(demo_layout, "init")
    assert_one_line_failure(result, "restore the key from the backup of your keys")
    assert "created key" not in result.stdout
    assert not db_key(demo_layout).exists()
    assert file_digests(demo_layout.data_dir) == before
