"""The `hearth` command: set up, run, check and look after the box.

Every expected failure is a HearthError whose one-line message is printed
as "hearth: ..." with a non-zero exit; tracebacks are for bugs only.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import click

from appliance import HearthError
from appliance.config import Settings, write_default_config
from appliance.paths import Layout


def settings() -> Settings:
    return Settings.load(Layout.discover())


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Hearth: practice management for small therapy practices."""


@cli.command()
@click.option("--practice-name", default="Hearth Practice", show_default=True)
def init(practice_name: str) -> None:
    """Create config, keys and the encrypted database, then migrate. Safe to re-run."""
    from appliance import keys, storage
    from appliance.migrations import current_version, migrate

    layout = Layout.discover()
    layout.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not layout.config_file.exists():
        write_default_config(layout.config_file, practice_name)
        click.echo(f"wrote {layout.config_file}")
    if layout.database.exists():
        # An existing database is never re-keyed or replaced here: a missing
        # key must be restored, not regenerated over good data.
        database = storage.open_database(layout, check_schema=False)
    else:
        for name in keys.ensure_keys(layout):
            click.echo(f"created key {keys.key_path(layout, name)}")
        database = storage.open_database(layout, create=True, check_schema=False)
        click.echo(f"created encrypted database {layout.database}")
    applied = migrate(database)
    with database.connection_context():
        version = current_version(database)
    click.echo(f"schema at version {version}; {len(applied)} step(s) applied")
    seal_audit_trail(layout, database)


@cli.command("migrate")
def migrate_command() -> None:
    """Apply pending schema migrations."""
    from appliance import storage
    from appliance.migrations import current_version, migrate

    layout = Layout.discover()
    database = storage.open_database(layout, check_schema=False)
    applied = migrate(database)
    with database.connection_context():
        version = current_version(database)
    click.echo(f"schema at version {version}; {len(applied)} step(s) applied")
    seal_audit_trail(layout, database)


def seal_audit_trail(layout: Layout, database: Any) -> None:
    """Seal audit entries written before the chain existed (after migration 6); idempotent.

    An installation from before the chain has no audit key yet: it gets one here,
    but only while nothing is sealed, since a new key would break an existing chain.
    """
    from appliance import keys
    from webapp.audit.chain import chain_has_begun, seal_unsealed

    with database.connection_context():
        missing = (keys.credential_path(keys.AUDIT_KEY) is None
                   and not keys.key_path(layout, keys.AUDIT_KEY).exists())
        if missing and not chain_has_begun(database):
            keys.create_key(layout, keys.AUDIT_KEY)
            click.echo(f"created key {keys.key_path(layout, keys.AUDIT_KEY)}")
        sealed = seal_unsealed(database, keys.load_key(layout, keys.AUDIT_KEY))
    if sealed:
        click.echo(f"sealed {sealed} audit entries written before the audit chain")


@cli.command()
@click.option("--seed", default=2026, show_default=True, help="Same seed, same practice.")
@click.option("--clients", "client_count", default=150, show_default=True)
def demo(seed: int, client_count: int) -> None:
    """Fill the database with a realistic small practice (demo only)."""
    from appliance import storage
    from webapp.demo import load_demo

    config = settings()
    storage.open_database(config.layout)
    summary = load_demo(config.layout, seed=seed, client_count=client_count)
    click.echo(summary)


@cli.command()
@click.argument("which", type=click.Choice(["staff", "portal"]))
def serve(which: str) -> None:
    """Serve one app under gunicorn (the systemd units call this)."""
    from appliance.server import serve_app

    serve_app(settings(), which)


@cli.command()
@click.option("--workers", default=2, show_default=True)
def worker(workers: int) -> None:
    """Run the Huey consumer for reminders, retention and backups."""
    from appliance.server import run_worker

    run_worker(settings(), workers)


@cli.command()
def run() -> None:
    """Development: serve both apps and the worker until Ctrl-C."""
    from appliance.server import run_all

    run_all(settings())


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def check(as_json: bool) -> None:
    """Run the health checks; exit 1 if any fails."""
    from appliance.checks import run_checks

    results = run_checks(settings())
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in results], indent=2))
    else:
        for result in results:
            click.echo(f"{result.status:<5} {result.name}: {result.detail}")
    if any(r.status == "fail" for r in results):
        sys.exit(1)


@cli.group()
def keys() -> None:
    """Manage the database and session keys."""


@keys.command("rotate")
def keys_rotate() -> None:
    """Re-key the database and queue: copy, verify, then swap. Stop Hearth first."""
    from appliance.rotation import rotate_database_key

    for line in rotate_database_key(Layout.discover()):
        click.echo(line)


@cli.group()
def audit() -> None:
    """Verify the audit trail and write checkpoints of its chain."""


@audit.command("verify")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def audit_verify(as_json: bool) -> None:
    """Walk the audit chain; exit 1 and name the first broken entry if it was tampered with."""
    from appliance import storage
    from appliance.keys import AUDIT_KEY, load_key
    from webapp.audit.checkpoints import record_verification
    from webapp.audit.verify import verify

    layout = Layout.discover()
    database = storage.open_database(layout)
    key = load_key(layout, AUDIT_KEY)
    with database.connection_context():
        report = verify(database, key, layout.audit_checkpoints)
    if (report.entries and report.broken_links == report.entries
            and report.checkpoints_checked == 0):
        # Not one link and not one signature: the key, not the trail, is wrong.
        raise HearthError("the audit key does not match this audit trail: not one entry or "
                          "checkpoint verifies with it (restore the right audit.key; if it "
                          "is right, every entry was replaced)")
    record_verification(layout, report.as_dict())
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
    else:
        for finding in report.findings:
            click.echo(finding.line())
        click.echo(report.summary())
    if not report.ok:
        sys.exit(1)


@audit.command("checkpoint")
def audit_checkpoint() -> None:
    """Write the chain head now: a signed checkpoint, the system log and the checkpoint file."""
    from appliance import storage
    from webapp.audit.checkpoints import write_checkpoint

    layout = Layout.discover()
    database = storage.open_database(layout)
    with database.connection_context():
        checkpoint = write_checkpoint("manual", layout)
    click.echo(f"checkpoint at entry {checkpoint.entry_id} ({checkpoint.entry_count} entries), "
               f"mac {checkpoint.mac[:16]}; written to {layout.audit_checkpoints}")


@cli.group()
def users() -> None:
    """Manage staff accounts."""


@users.command("add")
@click.argument("username")
@click.option("--name", "full_name", required=True, help="The person's full name.")
@click.option("--role", "roles", multiple=True, required=True,
              type=click.Choice(["admin", "clinician", "supervisor", "biller", "front_desk"]))
def users_add(username: str, full_name: str, roles: tuple[str, ...]) -> None:
    """Add a staff account and print its first password once."""
    import peewee

    from appliance import storage
    from webapp.core.accounts import create_staff_user, generate_password

    storage.open_database(Layout.discover())
    with storage.db.connection_context():
        password = generate_password(username=username, full_name=full_name)  # policy-checked
        try:
            create_staff_user(username, full_name, list(roles), password)
        except ValueError as exc:
            raise HearthError(f"{exc}; nothing was changed") from exc
        except peewee.IntegrityError as exc:
            raise HearthError(f"there is already a staff account named "
                              f"{username.strip().lower()!r}; nothing was changed") from exc
    click.echo(f"created {username}; first password (shown once): {password}")


@users.command("unlock")
@click.argument("username")
def users_unlock(username: str) -> None:
    """End a staff account's lockout after too many failed sign-ins."""
    from appliance import storage
    from webapp.core.models import StaffUser
    from webapp.core.signin import unlock_account

    storage.open_database(Layout.discover())
    with storage.db.connection_context():
        user = StaffUser.get_or_none(StaffUser.username == username.strip().lower())
        if user is None:
            raise HearthError(f"there is no staff account named {username!r}")
        was_locked = unlock_account(StaffUser, user.id)
    click.echo(f"unlocked {user.username}" if was_locked
               else f"{user.username} was not locked; failed sign-ins reset")


@cli.group()
def retention() -> None:
    """Apply the retention policies (the worker does it daily)."""


@retention.command("run")
def retention_run() -> None:
    """Apply every retention policy now and print what was done."""
    from appliance import storage
    from webapp.audit.retention import apply_policies, summary_lines

    storage.open_database(Layout.discover())
    with storage.db.connection_context():
        run = apply_policies()
        click.echo(f"retention run {run.id}:")
        for line in summary_lines(run):
            click.echo(f"  {line}")


def main(argv: list[str] | None = None) -> None:
    """Entry point: expected failures become one line and exit code 2."""
    import peewee
    from sqlcipher3 import dbapi2 as sqlcipher

    # Everything Hearth writes (database, queue, keys, exports) is for its own user only.
    os.umask(0o077)

    def fail(message: str, code: int) -> None:
        click.echo(f"hearth: {message}", err=True)
        sys.exit(code)

    try:
        cli.main(args=argv, prog_name="hearth", standalone_mode=False)
    except click.exceptions.Abort:
        fail("aborted", 1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except HearthError as exc:
        fail(str(exc), exc.exit_code)
    except (sqlcipher.DatabaseError, peewee.DatabaseError) as exc:
        # A damaged page met mid-command: say what it means, not SQLite's words.
        from appliance.storage import classify_error

        fail(str(classify_error(Layout.discover().database, exc)), 2)


if __name__ == "__main__":
    main()
