"""Retention: a run removes exactly what the policies say and lists clinical records due for
review without deleting them; policies refuse what they must; destroying a record is
deliberate, exact and recorded; `hearth retention run` and the daily task apply it."""

from __future__ import annotations

import hashlib
import time
from datetime import date, datetime, timedelta

import pytest

from appliance.config import Settings
from appliance.storage import db
from tests.conftest import make_staff, run_hearth
from tests.integration.conftest import release_database
from webapp.access.service import NotPermitted
from webapp.audit import retention
from webapp.audit.models import AuditEntry, DestructionRecord, RetentionPolicy, RetentionRun
from webapp.audit.service import record
from webapp.clients import service as clients_service
from webapp.clients.models import Client
from webapp.core.models import StaffUser
from webapp.core.timeutil import utcnow
from webapp.notes.models import ClinicalNote
from webapp.revisions.service import canonical, snapshot_of


@pytest.fixture
def admin(settings: Settings) -> StaffUser:
    """An admin (and a clinician, "cclin"); the test then talks to the database directly."""
    make_staff("cclin", ["clinician"], full_name="Cal Clinician", mfa=False)
    return make_staff("radmin", ["admin"], full_name="Rita Admin", mfa=False)


def years_ago(years: int, today: date | None = None) -> date:
    return retention.add_years(today or utcnow().date(), -years)


def discharged_client(admin: StaffUser, first: str, born: date, discharged: date | None,
                      notes: int = 2) -> int:
    """A client added and (unless `discharged` is None) discharged through the service,
    with `notes` signed notes by the clinician."""
    client = clients_service.create_client(admin, {
        "legal_first_name": first, "legal_last_name": "Tester", "date_of_birth": born},
        utcnow().date(), allow_duplicate=True)
    author = StaffUser.get(StaffUser.username == "cclin")
    for index in range(notes):
        ClinicalNote.create(client=client.id, author=author.id, status="signed",
                            session_date=born + timedelta(days=4000 + index),
                            body=f"Session {index} with {first}.", signed_at=utcnow())
    if discharged is not None:
        clients_service.discharge_client(admin, client.id, discharged, "Treatment complete")
    return int(client.id)


def note_ids(client_id: int | None = None) -> set[int]:
    query = ClinicalNote.select(ClinicalNote.id)
    if client_id is not None:
        query = query.where(ClinicalNote.client == client_id)
    return {note.id for note in query}


# -- audit entries ----------------------------------------------------------------

def test_a_run_prunes_the_audit_entries_older_than_the_policy_and_nothing_younger(
        admin: StaffUser, settings: Settings) -> None:
    """With six years kept, are exactly the entries older than six years before 'now'
    pruned, every younger one kept, the count reported, and does the rest of the trail
    still verify?"""
    older = [record("view", object_type="client_list", actor_kind="system")
             for _ in range(25)]
    time.sleep(0.05)
    younger = [record("view", object_type="client_list", actor_kind="system")
               for _ in range(15)]
    last_old = AuditEntry.get_by_id(older[-1]).occurred_at
    first_young = AuditEntry.get_by_id(younger[0]).occurred_at
    cutoff = last_old + (first_young - last_old) / 2
    now = retention.add_years(cutoff, retention.AUDIT_FLOOR_YEARS)
    assert retention.audit_cutoff(now) == cutoff
    expected_gone = {e.id for e in AuditEntry.select() if e.occurred_at < cutoff}
    expected_kept = {e.id for e in AuditEntry.select() if e.occurred_at >= cutoff}
    assert set(older) <= expected_gone and set(younger) == expected_kept

    run = retention.apply_policies(now)

    remaining = {e.id for e in AuditEntry.select()}
    assert not remaining & expected_gone
    assert expected_kept <= remaining
    assert all(e.occurred_at >= cutoff for e in AuditEntry.select())
    assert f"Audit trail entries: {len(expected_gone)} older than" in \
        "\n".join(retention.summary_lines(run))
    [ran] = AuditEntry.select().where(AuditEntry.action == "retention_run")
    assert (ran.object_id, ran.actor_kind) == (run.id, "system")
    # A second run with the same clock finds nothing more to prune.
    again = retention.apply_policies(now)
    assert "Audit trail entries: 0 older than" in retention.summary_lines(again)[0]

    release_database()
    verified = run_hearth(settings.layout, "audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_nothing_is_pruned_while_every_entry_is_younger_than_the_policy(
        admin: StaffUser) -> None:
    """Does a run today (every entry minutes old) leave the whole trail in place?"""
    for _ in range(10):
        record("view", object_type="client_list", actor_kind="system")
    before = {e.id for e in AuditEntry.select()}
    run = retention.apply_policies()
    assert before <= {e.id for e in AuditEntry.select()}
    assert retention.summary_lines(run)[0].startswith("Audit trail entries: 0 older than")


# -- clinical records and drafts ------------------------------------------------------

def test_clinical_records_due_are_listed_for_review_and_never_deleted(admin: StaffUser) -> None:
    """Discharged eight years ago: listed. Two years ago: not. A minor discharged at ten
    whose 18th birthday plus seven years is still ahead: not. A minor whose majority plus
    seven has passed: listed. Is every note still there after the run?"""
    today = utcnow().date()
    old = discharged_client(admin, "Eighty", date(1960, 3, 3), years_ago(8))
    recent = discharged_client(admin, "Twoyear", date(1970, 3, 3), years_ago(2))
    minor = discharged_client(admin, "Minor", years_ago(20), years_ago(10))
    grown = discharged_client(admin, "Grown", years_ago(30), years_ago(20))
    active = discharged_client(admin, "Active", date(1950, 1, 1), None)
    notes_before = note_ids()
    assert len(notes_before) == 10

    run = retention.apply_policies()

    due = retention.due_for_review(today)
    assert [d.client_id for d in due] == [grown, old]  # longest overdue first
    by_id = {d.client_id: d for d in due}
    assert by_id[grown].minor_at_discharge and not by_id[old].minor_at_discharge
    assert by_id[grown].due_on == retention.add_years(years_ago(30), 18 + 7)
    assert by_id[old].due_on == retention.add_years(years_ago(8), 7)
    assert by_id[old].notes == 2
    assert "Clinical records: 2 listed for review, none deleted" in retention.summary_lines(run)
    assert note_ids() == notes_before
    assert Client.select().count() == 5
    assert DestructionRecord.select().count() == 0
    assert {recent, minor, active}.isdisjoint(by_id)

    # The years are the policy's: at one year after discharge, the recent one is due too.
    retention.set_policies(admin, {"clinical_records": "1"})
    assert {d.client_id for d in retention.due_for_review(today)} == {old, recent, minor, grown}


def test_stale_drafts_are_listed_not_deleted(admin: StaffUser) -> None:
    """Is a draft untouched for two years listed (one-year policy), while a fresh draft and
    an old signed note are not, and is nothing deleted?"""
    client_id = discharged_client(admin, "Drafty", date(1980, 1, 1), None, notes=0)
    author = StaffUser.get(StaffUser.username == "cclin")
    two_years = utcnow() - timedelta(days=730)
    stale = ClinicalNote.create(client=client_id, author=author.id, status="draft",
                                session_date=date(2020, 1, 1), body="Unfinished.",
                                updated_at=two_years)
    ClinicalNote.create(client=client_id, author=author.id, status="draft",
                        session_date=date(2026, 1, 1), body="Fresh.")
    ClinicalNote.create(client=client_id, author=author.id, status="signed",
                        session_date=date(2020, 1, 1), body="Old, signed.",
                        updated_at=two_years, signed_at=two_years)
    run = retention.apply_policies()
    assert [d.note_id for d in retention.stale_drafts(utcnow())] == [stale.id]
    lines = retention.summary_lines(run)
    assert "Unsigned drafts of clinical notes: 1 listed for review, none deleted" in lines
    for kind in ("Secure messages", "Reminder delivery logs", "Telehealth session logs"):
        assert f"{kind}: nothing to do (no such records yet)" in lines
    assert ClinicalNote.select().count() == 3


# -- policies ---------------------------------------------------------------------

def test_lowering_audit_retention_needs_a_reason_which_is_audited(admin: StaffUser) -> None:
    """Is four years refused without a reason (nothing stored, nothing audited), accepted
    with one (stored with the policy, one `retention_override` entry), never below one
    year, and is a non-admin refused outright?"""
    entries_before = AuditEntry.select().count()
    with pytest.raises(retention.InvalidPolicy) as refused:
        retention.set_policies(admin, {"audit_entries": "4", "messages": "3"})
    assert "override_reason" in refused.value.errors
    assert RetentionPolicy.select().count() == 0
    assert retention.years_for("messages") == 7
    assert AuditEntry.select().count() == entries_before

    for bad in ("0", "-1", "", "four", "101", "2.5"):
        with pytest.raises(retention.InvalidPolicy) as refused:
            retention.set_policies(admin, {"audit_entries": bad},
                                   override_reason="Storage is tiny; counsel agreed.")
        assert "audit_entries" in refused.value.errors, bad
    assert RetentionPolicy.select().count() == 0

    changed = retention.set_policies(admin, {"audit_entries": "4"},
                                     override_reason="State counsel advised four years.")
    assert changed == ["audit_entries"]
    policy = RetentionPolicy.get_by_id("audit_entries")
    assert (policy.years, policy.override_reason, policy.updated_by_id) == (
        4, "State counsel advised four years.", admin.id)
    override = AuditEntry.select().order_by(AuditEntry.id.desc()).first()
    assert (override.action, override.object_type, override.actor_id) == (
        "retention_override", "retention.audit_entries", admin.id)
    assert AuditEntry.select().count() == entries_before + 1

    # Back to six: no override any more, audited as an ordinary change.
    retention.set_policies(admin, {"audit_entries": "6"})
    assert RetentionPolicy.get_by_id("audit_entries").override_reason == ""
    latest = AuditEntry.select().order_by(AuditEntry.id.desc()).first()
    assert (latest.action, latest.object_type) == ("config_change", "retention.audit_entries")
    assert retention.set_policies(admin, {"audit_entries": "6"}) == []  # nothing changed

    clinician = StaffUser.get(StaffUser.username == "cclin")
    with pytest.raises(NotPermitted):
        retention.set_policies(clinician, {"audit_entries": "10"})
    assert retention.years_for("audit_entries") == 6
    assert AuditEntry.select().order_by(AuditEntry.id.desc()).first().action == \
        "permission_denied"


# -- destroying -------------------------------------------------------------------

def test_destroying_a_record_removes_exactly_that_clients_notes_and_leaves_a_record(
        admin: StaffUser) -> None:
    """Does destroying one due record delete that client's notes only, keep the client's
    details, leave a DestructionRecord with the notes' hash, who and why, and one
    `destroy` entry? Are a second attempt, a record not due, a short reason and a
    non-admin all refused with nothing changed?"""
    today = utcnow().date()
    first = discharged_client(admin, "Firstdue", date(1961, 1, 1), years_ago(9), notes=3)
    second = discharged_client(admin, "Seconddue", date(1962, 1, 1), years_ago(9), notes=2)
    recent = discharged_client(admin, "Recent", date(1963, 1, 1), years_ago(1), notes=1)
    notes = list(ClinicalNote.select().where(ClinicalNote.client == first)
                 .order_by(ClinicalNote.id))
    expected_hash = hashlib.sha256(canonical(
        {"notes": [snapshot_of(note) for note in notes]}).encode()).hexdigest()
    kept = note_ids() - note_ids(first)

    with pytest.raises(retention.InvalidPolicy):
        retention.destroy_clinical_record(admin, first, "too short", today)
    with pytest.raises(retention.NotDue):
        retention.destroy_clinical_record(admin, recent, "Retention period has passed.", today)
    with pytest.raises(NotPermitted):
        retention.destroy_clinical_record(StaffUser.get(StaffUser.username == "cclin"), first,
                                          "Retention period has passed.", today)
    assert len(note_ids()) == 6 and DestructionRecord.select().count() == 0
    destroys_before = AuditEntry.select().where(AuditEntry.action == "destroy").count()
    assert destroys_before == 0

    destruction = retention.destroy_clinical_record(
        admin, first, "Seven years after discharge passed; reviewed, no hold.", today)

    assert note_ids(first) == set()
    assert note_ids() == kept
    assert Client.get_by_id(first).legal_first_name == "Firstdue"  # demographics stay
    saved = DestructionRecord.get_by_id(destruction.id)
    assert (saved.object_type, saved.object_id, saved.client_id) == (
        "clinical_record", first, first)
    assert saved.content_hash == expected_hash
    assert saved.reason == "Seven years after discharge passed; reviewed, no hold."
    assert saved.destroyed_by_id == admin.id
    [destroyed] = AuditEntry.select().where(AuditEntry.action == "destroy")
    assert (destroyed.object_type, destroyed.object_id, destroyed.client_id,
            destroyed.actor_id) == ("clinical_record", first, first, admin.id)
    assert [d.client_id for d in retention.due_for_review(today)] == [second]
    with pytest.raises(retention.NotDue):
        retention.destroy_clinical_record(admin, first, "Once more, just to be sure.", today)
    assert DestructionRecord.select().count() == 1
    del recent


# -- the command and the task ---------------------------------------------------------

def test_hearth_retention_run_applies_the_policies_and_prints_what_it_did(
        admin: StaffUser, settings: Settings) -> None:
    """Does `hearth retention run` (a real process) apply the policies, store the run, and
    print one line per kind, honest about the kinds with no records yet?"""
    discharged_client(admin, "Cli", date(1950, 2, 2), years_ago(10), notes=1)
    release_database()
    result = run_hearth(settings.layout, "retention", "run")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("retention run ")
    assert "  Clinical records: 1 listed for review, none deleted" in lines
    assert "  Secure messages: nothing to do (no such records yet)" in lines
    assert any(line.startswith("  Audit trail entries: 0 older than") for line in lines)
    with db.connection_context():
        [run] = RetentionRun.select()
        assert run.finished_at is not None
        assert ClinicalNote.select().count() == 1


def test_the_daily_task_is_registered_and_applies_the_policies(admin: StaffUser) -> None:
    """Is the retention task a daily periodic task of the worker, and does running it
    store a run?"""
    from webapp import tasks
    from webapp.audit.retention_tasks import apply_retention_policies

    assert "webapp.audit.retention_tasks" in tasks.TASK_MODULES
    ours = apply_retention_policies.task_class
    fires = [(hour, minute) for hour in range(24) for minute in range(60)
             if any(isinstance(task, ours) for task in tasks.huey.read_periodic(
                 datetime(2026, 5, 4, hour, minute)))]
    assert fires == [(3, 40)]  # once a day
    run_id = apply_retention_policies.call_local()
    assert RetentionRun.get_by_id(run_id).finished_at is not None
