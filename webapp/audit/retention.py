"""Retention: how long each kind of record is kept, and the run that applies the policies.

    set_policies(admin, {"audit_entries": "4"}, override_reason="...")  # audited
    run = apply_policies()             # the daily task and `hearth retention run`
    due_for_review(today)              # clinical records past their retention
    destroy_clinical_record(admin, client_id, reason, today)   # a deliberate act

What a run does, per kind:

- audit entries older than the policy are pruned through the chain
  (`webapp.audit.chain.prune_before`, which leaves a signed checkpoint so the
  rest still verifies). Six years by default (HIPAA 164.316(b)(2)); lower only
  with a written reason, itself audited; never below one year.
- clinical records (N years after discharge, or after a minor comes of age plus
  N, whichever is later) are LISTED for review, never deleted by a run. An admin
  destroys one from the review list with a reason: the client's clinical notes
  go, a DestructionRecord keeps their hash, and the client's demographics stay
  (billing, the audit trail and the destruction record itself refer to them).
- unsigned drafts older than the policy are listed for review too: a draft is
  clinical content its author may still need to finish, so nothing deletes it.
- messages, reminder delivery logs and telehealth session logs: the policies
  are kept for when those records exist; today a run says there is nothing to do.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from peewee import JOIN, fn

from appliance import HearthError
from appliance.storage import db
from webapp.access.service import require_permission
from webapp.audit.models import AuditEntry, DestructionRecord, RetentionPolicy, RetentionRun
from webapp.audit.service import record
from webapp.clients.models import Client
from webapp.core.models import StaffUser
from webapp.core.timeutil import utcnow
from webapp.notes.models import ClinicalNote
from webapp.revisions.models import Revision
from webapp.revisions.service import canonical, snapshot_of

PERMISSION = "admin.console"
AUDIT = "audit_entries"
CLINICAL = "clinical_records"
DRAFTS = "unsigned_drafts"
AUDIT_FLOOR_YEARS = 6  # below this only with a reason (HIPAA documentation retention)
MIN_YEARS, MAX_YEARS = 1, 100
AGE_OF_MAJORITY = 18
REASON_MIN_LENGTH, REASON_MAX_LENGTH = 10, 1000
NOTHING_YET = "nothing to do (no such records yet)"


@dataclass(frozen=True)
class Kind:
    label: str
    default_years: int
    effect: str  # what happens when the time is up
    exists: bool  # whether Hearth keeps such records yet


KINDS: dict[str, Kind] = {
    AUDIT: Kind("Audit trail entries", AUDIT_FLOOR_YEARS,
                "Pruned; a signed checkpoint keeps the rest of the trail verifiable.", True),
    "messages": Kind("Secure messages", 7, "Deleted.", False),
    "reminder_logs": Kind("Reminder delivery logs", 6, "Deleted.", False),
    "telehealth_logs": Kind("Telehealth session logs", 6, "Deleted.", False),
    DRAFTS: Kind("Unsigned drafts of clinical notes", 1,
                 "Listed for review (never deleted automatically).", True),
    CLINICAL: Kind("Clinical records", 7,
                   "Counted from discharge, or from a minor's 18th birthday if later; then "
                   "listed for review, never deleted automatically.", True),
}


class InvalidPolicy(ValueError):
    """Bad input; `errors` maps a field (a kind, or "override_reason") to a message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


class NotDue(ValueError):
    """The record is not (or no longer) due for review; nothing was destroyed."""


def _by(user: Any) -> dict[str, Any]:
    """The acting admin for the audit entry, also outside a request (the CLI, tests)."""
    return {"actor_kind": getattr(user, "actor_kind", "staff"), "actor_id": user.id,
            "actor_role": ",".join(sorted(user.role_set))}


# -- policies -----------------------------------------------------------------

@dataclass(frozen=True)
class Policy:
    kind: str
    label: str
    years: int
    default_years: int
    effect: str
    exists: bool
    override_reason: str
    updated_at: datetime | None
    updated_by: str  # the admin's name, "" for the default


def policies() -> list[Policy]:
    stored = {row.kind: row for row in RetentionPolicy.select(RetentionPolicy, StaffUser)
              .join(StaffUser, on=(RetentionPolicy.updated_by == StaffUser.id),
                    join_type=JOIN.LEFT_OUTER)}
    shown = []
    for kind, spec in KINDS.items():
        row = stored.get(kind)
        who = row.updated_by.display_name if row is not None and row.updated_by else ""
        shown.append(Policy(kind, spec.label, row.years if row else spec.default_years,
                            spec.default_years, spec.effect, spec.exists,
                            row.override_reason if row else "",
                            row.updated_at if row else None, who))
    return shown


def years_for(kind: str) -> int:
    row = RetentionPolicy.get_or_none(RetentionPolicy.kind == kind)
    return int(row.years) if row is not None else KINDS[kind].default_years


def _clean_years(kind: str, raw: Any) -> int:
    text = str(raw if raw is not None else "").strip()
    if not text.isdecimal() or not MIN_YEARS <= int(text) <= MAX_YEARS:
        raise InvalidPolicy({kind: f"Enter a whole number of years from {MIN_YEARS} "
                                   f"to {MAX_YEARS}."})
    return int(text)


def set_policies(user: Any, values: dict[str, Any], override_reason: str = "") -> list[str]:
    """Store the years given per kind; returns the kinds that changed. Every value is
    checked before any is stored, so a bad one changes nothing.

    Audit retention below six years needs `override_reason` (at least ten characters),
    recorded with the policy and audited as `retention_override`; other changes are
    audited as `config_change`.
    """
    require_permission(user, PERMISSION)
    errors: dict[str, str] = {}
    wanted: dict[str, int] = {}
    for kind, raw in values.items():
        if kind not in KINDS:
            errors[kind] = "There is no such kind of record."
            continue
        try:
            wanted[kind] = _clean_years(kind, raw)
        except InvalidPolicy as exc:
            errors.update(exc.errors)
    reason = " ".join((override_reason or "").split())
    lowered = wanted.get(AUDIT, AUDIT_FLOOR_YEARS) < AUDIT_FLOOR_YEARS
    if lowered and len(reason) < REASON_MIN_LENGTH:
        errors["override_reason"] = (
            f"Keeping audit entries less than {AUDIT_FLOOR_YEARS} years goes below HIPAA's "
            f"documentation retention: say why (at least {REASON_MIN_LENGTH} characters).")
    elif len(reason) > REASON_MAX_LENGTH:
        errors["override_reason"] = f"Keep the reason under {REASON_MAX_LENGTH} characters."
    if errors:
        raise InvalidPolicy(errors)
    current = {policy.kind: policy for policy in policies()}
    changed = []
    with db.atomic():
        for kind, years in wanted.items():
            note = reason if kind == AUDIT and lowered else ""
            if years == current[kind].years and note == current[kind].override_reason:
                continue
            RetentionPolicy.insert(kind=kind, years=years, override_reason=note,
                                   updated_at=utcnow(), updated_by=user.id
                                   ).on_conflict_replace().execute()
            action = "retention_override" if note else "config_change"
            record(action, object_type=f"retention.{kind}", **_by(user))
            changed.append(kind)
    return changed


# -- dates --------------------------------------------------------------------

def add_years(moment: Any, years: int) -> Any:
    """The same day `years` later (or earlier); 29 February becomes 28 February."""
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:
        return moment.replace(year=moment.year + years, day=28)


def review_due_on(date_of_birth: date, discharged_on: date, years: int) -> date:
    """N years after discharge, or after the age of majority, whichever is later."""
    return max(add_years(discharged_on, years),
               add_years(date_of_birth, AGE_OF_MAJORITY + years))


# -- what is due ----------------------------------------------------------------

@dataclass(frozen=True)
class DueRecord:
    client_id: int
    name: str
    date_of_birth: date
    discharged_on: date
    due_on: date
    notes: int
    minor_at_discharge: bool


def _destroyed_since(client_ids: list[int]) -> dict[int, datetime]:
    rows: Any = (DestructionRecord.select(DestructionRecord.client_id,
                                     fn.MAX(DestructionRecord.destroyed_at).alias("last"))
            .where((DestructionRecord.object_type == "clinical_record")
                   & DestructionRecord.client_id.in_(client_ids))
            .group_by(DestructionRecord.client_id).tuples())
    return {client_id: _as_datetime(last) for client_id, last in rows}


def _as_datetime(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def due_for_review(today: date, client_id: int | None = None) -> list[DueRecord]:
    """Discharged clients whose clinical record is past its retention and not yet
    destroyed (since their last discharge), the longest overdue first."""
    years = years_for(CLINICAL)
    query = Client.select(Client.id, Client.legal_first_name, Client.legal_last_name,
                          Client.date_of_birth, Client.discharged_on).where(
        (Client.status == "discharged") & Client.discharged_on.is_null(False)
        & (Client.discharged_on <= add_years(today, -years)))
    if client_id is not None:
        query = query.where(Client.id == client_id)
    candidates = [(c, c.discharged_on, review_due_on(c.date_of_birth, c.discharged_on, years))
                  for c in query if c.discharged_on is not None]
    candidates = [found for found in candidates if found[2] <= today]
    ids = [c.id for c, _, _ in candidates]
    destroyed = _destroyed_since(ids)
    counted: Any = (ClinicalNote.select(ClinicalNote.client, fn.COUNT(ClinicalNote.id))
                    .where(ClinicalNote.client.in_(ids)).group_by(ClinicalNote.client).tuples())
    counts = {int(client): int(count) for client, count in counted}
    due = [DueRecord(c.id, f"{c.legal_first_name} {c.legal_last_name}", c.date_of_birth,
                     discharged_on, due_on, counts.get(c.id, 0),
                     add_years(c.date_of_birth, AGE_OF_MAJORITY) > discharged_on)
           for c, discharged_on, due_on in candidates
           if c.id not in destroyed or destroyed[c.id].date() < discharged_on]
    return sorted(due, key=lambda item: (item.due_on, item.client_id))


@dataclass(frozen=True)
class StaleDraft:
    note_id: int
    client_id: int
    author: str
    session_date: date
    updated_at: datetime


def stale_drafts(now: datetime) -> list[StaleDraft]:
    """Drafts untouched for longer than the policy: for their authors to finish or void."""
    cutoff = add_years(now, -years_for(DRAFTS))
    rows = (ClinicalNote.select(ClinicalNote.id, ClinicalNote.client, ClinicalNote.session_date,
                                ClinicalNote.updated_at, StaffUser.full_name)
            .join(StaffUser, on=(ClinicalNote.author == StaffUser.id))
            .where((ClinicalNote.status == "draft") & (ClinicalNote.updated_at < cutoff))
            .order_by(ClinicalNote.updated_at))
    return [StaleDraft(row.id, int(row.__data__["client"]), row.author.full_name,
                       row.session_date, row.updated_at) for row in rows]


# -- the run ------------------------------------------------------------------

def audit_cutoff(now: datetime) -> datetime:
    return add_years(now, -years_for(AUDIT))


def prune_audit(now: datetime) -> tuple[int, datetime]:
    """Prune the entries older than the audit policy; returns (how many, the cut-off).

    The chain can only lose a prefix, so the cut is just before the oldest entry at or
    after the cut-off: nothing younger goes, even if an older one sits after it."""
    from webapp.audit.chain import prune_before

    cutoff = audit_cutoff(now)
    first_kept = AuditEntry.select(fn.MIN(AuditEntry.id)).where(
        AuditEntry.occurred_at >= cutoff).scalar()
    last_old = AuditEntry.select(fn.MAX(AuditEntry.id))
    if first_kept is not None:
        last_old = last_old.where(AuditEntry.id < first_kept)
    last = last_old.scalar()
    if last is None:
        return 0, cutoff
    count = AuditEntry.select().where(AuditEntry.id <= last).count()
    prune_before(int(last))
    return int(count), cutoff


def apply_policies(now: datetime | None = None) -> RetentionRun:
    """Apply every policy once and keep what was done in a RetentionRun (counts only)."""
    now = now or utcnow()
    run = RetentionRun.create(started_at=utcnow(), summary="{}")
    summary: dict[str, dict[str, Any]] = {}
    outcome = "success"
    try:
        pruned, cutoff = prune_audit(now)
        summary[AUDIT] = {"pruned": pruned, "older_than": cutoff.isoformat(sep=" ")}
    except HearthError as exc:  # e.g. the trail does not verify: keep the evidence
        summary[AUDIT] = {"note": f"nothing pruned: {exc}"}
        outcome = "failure"
    for kind, spec in KINDS.items():
        if not spec.exists:
            summary[kind] = {"note": NOTHING_YET}
    summary[DRAFTS] = {"listed": len(stale_drafts(now))}
    summary[CLINICAL] = {"listed": len(due_for_review(now.date()))}
    run.summary = json.dumps(summary, sort_keys=True)
    run.finished_at = utcnow()
    run.save()
    who: dict[str, Any] = {} if _in_request() else {"actor_kind": "system"}
    record("retention_run", object_type="retention_run", object_id=run.id, outcome=outcome,
           **who)
    return run


def _in_request() -> bool:
    from flask import has_request_context

    return has_request_context()


def summary_lines(run: RetentionRun) -> list[str]:
    """What a run did, one line per kind, in words."""
    try:
        summary = json.loads(run.summary or "{}")
    except ValueError:
        return ["(the summary of this run cannot be read)"]
    lines = []
    for kind, spec in KINDS.items():
        found = summary.get(kind)
        if not found:
            continue
        if "pruned" in found:
            lines.append(f"{spec.label}: {found['pruned']} older than "
                         f"{str(found.get('older_than', ''))[:10]} pruned")
        elif "listed" in found:
            lines.append(f"{spec.label}: {found['listed']} listed for review, none deleted")
        else:
            lines.append(f"{spec.label}: {found.get('note', NOTHING_YET)}")
    return lines


def recent_runs(limit: int = 10) -> list[RetentionRun]:
    return list(RetentionRun.select().order_by(RetentionRun.id.desc()).limit(limit))


# -- destroying ---------------------------------------------------------------

def destroy_clinical_record(user: Any, client_id: int, reason: str,
                            today: date) -> DestructionRecord:
    """Destroy a client's clinical notes (and any revisions of them) once their record is
    due for review: a DestructionRecord keeps who, why and a SHA-256 of what went, and
    the act is audited as `destroy`. Demographics stay. Raises NotDue or InvalidPolicy
    and changes nothing on bad input."""
    require_permission(user, PERMISSION)
    reason = " ".join((reason or "").split())
    if len(reason) < REASON_MIN_LENGTH:
        raise InvalidPolicy({"reason": f"Say why the record is destroyed (at least "
                                       f"{REASON_MIN_LENGTH} characters)."})
    if len(reason) > REASON_MAX_LENGTH:
        raise InvalidPolicy({"reason": f"Keep the reason under {REASON_MAX_LENGTH} "
                                       "characters."})
    with db.atomic():
        if not due_for_review(today, client_id):
            raise NotDue(client_id)
        notes = list(ClinicalNote.select().where(ClinicalNote.client == client_id)
                     .order_by(ClinicalNote.id))
        digest = hashlib.sha256(canonical(
            {"notes": [snapshot_of(note) for note in notes]}).encode("utf-8")).hexdigest()
        note_ids = [note.id for note in notes]
        Revision.delete().where((Revision.object_type == "clinical_note")
                                & Revision.object_id.in_(note_ids)).execute()
        ClinicalNote.delete().where(ClinicalNote.client == client_id).execute()
        destruction = DestructionRecord.create(
            object_type="clinical_record", object_id=client_id, client_id=client_id,
            content_hash=digest, reason=reason, destroyed_by=user.id, destroyed_at=utcnow())
        record("destroy", object_type="clinical_record", object_id=client_id,
               client_id=client_id, **_by(user))
    return destruction


def destructions(limit: int = 50) -> list[DestructionRecord]:
    return list(DestructionRecord.select().order_by(DestructionRecord.id.desc()).limit(limit))

