"""Record-level scoping: which clients a staff member may open, and on what basis.

The role matrix (`webapp.core.permissions`) says what a role may do at all;
this module says to which clients. Services call it before returning a client
or a note, so a forgotten check in a view cannot widen access.

- Admin, biller and front desk see every client's demographics (scheduling,
  billing and the system need them) and no clinical content.
- A clinician sees the clients on their caseload; a supervisor also those on
  their supervisees' caseloads. Clinical content needs `notes.view` as well.
- Anyone with `break_glass.open` may open a client outside that scope by giving
  a reason: a time-limited grant, audited as break-glass, that waits in the
  admin console's review queue until an admin or supervisor marks it reviewed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from peewee import JOIN, SQL, fn

from appliance.storage import Prepared, db
from webapp.access.models import BreakGlassGrant
from webapp.audit.service import record
from webapp.clients.models import Client, ClinicianAssignment
from webapp.core import practice_settings
from webapp.core.models import StaffUser, Supervision
from webapp.core.permissions import ALL_CLIENTS_ROLES
from webapp.core.timeutil import utcnow

REASON_MIN_LENGTH = 10
REASON_MAX_LENGTH = 1000


class AccessDenied(PermissionError):
    """Not in this user's scope. `can_break_glass` says whether a reason would open it."""

    def __init__(self, client_id: int, can_break_glass: bool) -> None:
        super().__init__(f"client {client_id} is outside this user's scope")
        self.client_id = client_id
        self.can_break_glass = can_break_glass


class NotPermitted(PermissionError):
    """The user's roles do not include the permission at all (whatever the client)."""


class InvalidReason(ValueError):
    pass


@dataclass(frozen=True)
class Access:
    """What one user may see of one client, and why (None: nothing)."""

    client: str | None  # "caseload", "supervision", "role" or "break_glass"
    clinical: str | None  # "caseload", "supervision" or "break_glass"
    grant: BreakGlassGrant | None  # the active break-glass grant, if any


def require_permission(user: Any, permission: str) -> None:
    """The role matrix, checked again in the service: a view's guard is not the only one."""
    if not user.can(permission):
        record("permission_denied", object_type=permission, outcome="denied")
        raise NotPermitted(permission)


def sees_all_clients(user: Any) -> bool:
    return bool(user.role_set & ALL_CLIENTS_ROLES)


def supervisor_key(user: Any) -> int:
    """The id to match supervision rows with: the user's own when they supervise, else 0
    (no staff id), so one compiled query serves supervisors and clinicians alike."""
    return int(user.id) if "supervisor" in user.role_set else 0


def supervisee_ids(user: Any) -> list[int]:
    if "supervisor" not in user.role_set:
        return []
    return [row.supervisee_id for row in
            Supervision.select(Supervision.supervisee).where(Supervision.supervisor == user.id)]


def caseload_ids(clinician_id: Any, supervisor_id: Any) -> Any:
    """A sub-select of the client ids assigned to `clinician_id` or to anyone
    `supervisor_id` supervises. Plain parameters, so a `Prepared` query can embed it."""
    supervisees = Supervision.select(Supervision.supervisee).where(
        Supervision.supervisor == supervisor_id)
    return ClinicianAssignment.select(ClinicianAssignment.client).where(
        (ClinicianAssignment.clinician == clinician_id)
        | ClinicianAssignment.clinician.in_(supervisees))


def on_caseload(client_id: Any, clinician_id: Any, supervisor_id: Any) -> Any:
    """An EXISTS test that the client is assigned to `clinician_id` or a supervisee of
    `supervisor_id`: one index probe per client row, for lists that walk the clients."""
    supervisees = Supervision.select(Supervision.supervisee).where(
        Supervision.supervisor == supervisor_id)
    return fn.EXISTS(ClinicianAssignment.select(SQL("1")).where(
        (ClinicianAssignment.client == client_id)
        & ((ClinicianAssignment.clinician == clinician_id)
           | ClinicianAssignment.clinician.in_(supervisees))))


# Whether a caseload (with supervisees') holds more than `limit` assignments: an
# OFFSET probe on the index stops at limit + 1 rows instead of counting thousands.
_CASELOAD_BEYOND = Prepared(lambda clinician_id, supervisor_id, one, limit: (
    ClinicianAssignment.select(SQL("1")).where(
        (ClinicianAssignment.clinician == clinician_id)
        | ClinicianAssignment.clinician.in_(Supervision.select(Supervision.supervisee).where(
            Supervision.supervisor == supervisor_id))).limit(one).offset(limit).tuples()))


def caseload_exceeds(user: Any, limit: int) -> bool:
    return _CASELOAD_BEYOND.first(user.id, supervisor_key(user), 1, limit) is not None


def caseload_query(user: Any) -> Any:
    """A sub-select of the client ids on this user's caseload and their supervisees'."""
    return caseload_ids(user.id, supervisor_key(user))


# Who is assigned to the client, and whether each is supervised by the asking user.
_ASSIGNED = Prepared(lambda supervisor_id, client_id: ClinicianAssignment.select(
    ClinicianAssignment.clinician, Supervision.id).join(
    Supervision, JOIN.LEFT_OUTER,
    on=((Supervision.supervisee == ClinicianAssignment.clinician)
        & (Supervision.supervisor == supervisor_id))).where(
    ClinicianAssignment.client == client_id).tuples())


def caseload_basis(user: Any, client_id: int) -> str | None:
    """"caseload" (own), "supervision" (a supervisee's), or None. One query."""
    if not user.role_set & {"clinician", "supervisor"}:
        return None
    rows = list(_ASSIGNED.run(supervisor_key(user), client_id))
    if any(clinician == user.id for clinician, _ in rows):
        return "caseload"
    if any(supervision is not None for _, supervision in rows):
        return "supervision"
    return None


def active_grant(user: Any, client_id: int) -> BreakGlassGrant | None:
    return BreakGlassGrant.select().where(
        (BreakGlassGrant.staff_user == user.id) & (BreakGlassGrant.client == client_id)
        & (BreakGlassGrant.expires_at > utcnow())).order_by(
        BreakGlassGrant.expires_at.desc()).first()


def access_to(user: Any, client_id: int) -> Access:
    """Both bases at once, in one or two queries: what a client page needs.

    A grant counts only while the user still holds `break_glass.open`, so taking
    the permission away ends open grants too.
    """
    caseload = caseload_basis(user, client_id)
    grant = None
    if user.can("break_glass.open") and (caseload is None or not user.can("notes.view")):
        grant = active_grant(user, client_id)
    emergency = "break_glass" if grant is not None else None
    demographics = caseload or ("role" if sees_all_clients(user) else None) or emergency
    clinical = (caseload if user.can("notes.view") else None) or emergency
    return Access(client=demographics, clinical=clinical, grant=grant)


def client_basis(user: Any, client_id: int) -> str | None:
    """Why this user may see the client's demographics, or None when they may not."""
    return access_to(user, client_id).client


def clinical_basis(user: Any, client_id: int) -> str | None:
    """Why this user may read the client's clinical record, or None."""
    return access_to(user, client_id).clinical


def _deny(user: Any, client_id: int, what: str) -> AccessDenied:
    record("permission_denied", object_type=what, object_id=client_id, client_id=client_id,
           outcome="denied")
    return AccessDenied(client_id, user.can("break_glass.open"))


def require_access(user: Any, client_id: int) -> Access:
    """The client's demographics must be in scope; returns the whole `Access`."""
    access = access_to(user, client_id)
    if access.client is None:
        raise _deny(user, client_id, "client")
    return access


def require_client(user: Any, client_id: int) -> str:
    basis = require_access(user, client_id).client
    assert basis is not None
    return basis


def require_clinical(user: Any, client_id: int) -> str:
    basis = clinical_basis(user, client_id)
    if basis is None:
        raise _deny(user, client_id, "clinical_record")
    return basis


def open_break_glass(user: Any, client_id: int, reason: str) -> BreakGlassGrant:
    """Grant time-limited access outside the user's scope; the reason is required."""
    if not user.can("break_glass.open"):
        raise _deny(user, client_id, "break_glass")
    reason = " ".join(reason.split())
    if len(reason) < REASON_MIN_LENGTH:
        raise InvalidReason("Say why you need this record (at least "
                            f"{REASON_MIN_LENGTH} characters). The reason is reviewed.")
    if len(reason) > REASON_MAX_LENGTH:
        raise InvalidReason(f"Keep the reason under {REASON_MAX_LENGTH} characters.")
    if Client.get_or_none(Client.id == client_id) is None:
        raise LookupError(client_id)
    if access_to(user, client_id).clinical in ("caseload", "supervision"):
        raise InvalidReason("This client is already in your care; no emergency access "
                            "is needed.")
    minutes = practice_settings.get("break_glass_minutes")
    now = utcnow()
    with db.atomic():
        grant = BreakGlassGrant.create(staff_user=user.id, client=client_id, reason=reason,
                                       started_at=now,
                                       expires_at=now + timedelta(minutes=minutes))
        record("break_glass", object_type="break_glass_grant", object_id=grant.id,
               client_id=client_id)
    return grant


def pending_reviews() -> list[BreakGlassGrant]:
    return list(BreakGlassGrant.select(BreakGlassGrant, StaffUser).join(
        StaffUser, on=(BreakGlassGrant.staff_user == StaffUser.id)).where(
        BreakGlassGrant.reviewed_at.is_null()).order_by(BreakGlassGrant.started_at))


def review_grant(reviewer: Any, grant_id: int, note: str = "") -> BreakGlassGrant:
    """Mark a break-glass grant reviewed; nobody reviews their own."""
    if not reviewer.can("break_glass.review"):
        raise _deny(reviewer, 0, "break_glass_review")
    with db.atomic():
        grant = BreakGlassGrant.get_or_none(BreakGlassGrant.id == grant_id)
        if grant is None:
            raise LookupError(grant_id)
        if grant.staff_user_id == reviewer.id:
            raise InvalidReason("Someone else must review your own break-glass access.")
        if grant.reviewed_at is None:
            grant.reviewed_by, grant.reviewed_at = reviewer.id, utcnow()
            grant.review_note = note.strip()[:REASON_MAX_LENGTH]
            grant.save()
            record("review", object_type="break_glass_grant", object_id=grant.id,
                   client_id=grant.client_id)
    return grant
