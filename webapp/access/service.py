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

from datetime import timedelta
from typing import Any

from appliance.storage import db
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


class InvalidReason(ValueError):
    pass


def sees_all_clients(user: Any) -> bool:
    return bool(user.role_set & ALL_CLIENTS_ROLES)


def supervisee_ids(user: Any) -> list[int]:
    if "supervisor" not in user.role_set:
        return []
    return [row.supervisee_id for row in
            Supervision.select(Supervision.supervisee).where(Supervision.supervisor == user.id)]


def caseload_query(user: Any) -> Any:
    """A sub-select of the client ids on this user's caseload and their supervisees'."""
    clinicians = [user.id, *supervisee_ids(user)]
    return ClinicianAssignment.select(ClinicianAssignment.client).where(
        ClinicianAssignment.clinician.in_(clinicians))


def caseload_basis(user: Any, client_id: int) -> str | None:
    """"caseload" (own), "supervision" (a supervisee's), or None."""
    if "clinician" in user.role_set or "supervisor" in user.role_set:
        assigned = {row.clinician_id for row in ClinicianAssignment.select(
            ClinicianAssignment.clinician).where(ClinicianAssignment.client == client_id)}
        if user.id in assigned:
            return "caseload"
        if assigned & set(supervisee_ids(user)):
            return "supervision"
    return None


def active_grant(user: Any, client_id: int) -> BreakGlassGrant | None:
    return BreakGlassGrant.select().where(
        (BreakGlassGrant.staff_user == user.id) & (BreakGlassGrant.client == client_id)
        & (BreakGlassGrant.expires_at > utcnow())).order_by(
        BreakGlassGrant.expires_at.desc()).first()


def client_basis(user: Any, client_id: int) -> str | None:
    """Why this user may see the client's demographics, or None when they may not."""
    basis = caseload_basis(user, client_id)
    if basis:
        return basis
    if sees_all_clients(user):
        return "role"
    return "break_glass" if active_grant(user, client_id) else None


def clinical_basis(user: Any, client_id: int) -> str | None:
    """Why this user may read the client's clinical record, or None."""
    if user.can("notes.view"):
        basis = caseload_basis(user, client_id)
        if basis:
            return basis
    if user.can("break_glass.open") and active_grant(user, client_id):
        return "break_glass"
    return None


def _deny(user: Any, client_id: int, what: str) -> AccessDenied:
    record("permission_denied", object_type=what, object_id=client_id, client_id=client_id,
           outcome="denied")
    return AccessDenied(client_id, user.can("break_glass.open"))


def require_client(user: Any, client_id: int) -> str:
    basis = client_basis(user, client_id)
    if basis is None:
        raise _deny(user, client_id, "client")
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
