"""Bringing staff on and off: invitations, roles, disabling, MFA resets, supervision.

    invitation, token = invite(admin, username="rlee", full_name="Rae Lee",
                               roles=["clinician"], reason="New hire, starts Monday")
    user = accept_invitation(token, "a long passphrase")   # the invitee, from /welcome/<token>
    change_roles(admin, user.id, ["clinician", "supervisor"], reason="Now supervises")
    disable(admin, user.id, reason="Left the practice")    # ends every session at once

Every change writes an `AccountChange` row (who, what, why) and an audit entry.
The practice is never left without an active admin, and nobody disables
themself. Invitation links carry a 256-bit token; only its SHA-256 is stored.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from appliance.storage import db
from webapp.audit.service import record
from webapp.core import mfa, password_policy
from webapp.core.models import AccountChange, StaffInvitation, StaffUser, Supervision
from webapp.core.passwords import hash_password
from webapp.core.permissions import ROLES
from webapp.core.sessions import end_sessions, token_hash
from webapp.core.signin import unlock_account
from webapp.core.timeutil import utcnow

INVITATION_LIFETIME = timedelta(hours=72)
REASON_MIN_LENGTH = 5
REASON_MAX_LENGTH = 1000
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
ROLE_LABELS = {"admin": "Admin", "clinician": "Clinician", "supervisor": "Supervisor",
               "biller": "Biller", "front_desk": "Front desk"}
UNUSABLE_INVITATION = ("This invitation link cannot be used: it has expired, was already "
                       "used or was withdrawn. Ask your practice administrator for a new one.")


class ProvisioningError(ValueError):
    """Bad input for an account change; `errors` maps form fields to messages."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


class InvitationUnusable(LookupError):
    """Expired, used, withdrawn or unknown: the invitee sees one message for all four."""


def _clean_reason(reason: str, required: bool = True) -> str:
    text = " ".join((reason or "").split())
    if required and len(text) < REASON_MIN_LENGTH:
        raise ProvisioningError({"reason": "Say why (a few words); it is kept with the change."})
    if len(text) > REASON_MAX_LENGTH:
        raise ProvisioningError({"reason": f"Keep the reason under {REASON_MAX_LENGTH} "
                                           "characters."})
    return text


def _clean_roles(roles: Iterable[str]) -> list[str]:
    chosen = sorted(set(roles))
    if not chosen:
        raise ProvisioningError({"roles": "Choose at least one role."})
    unknown = [role for role in chosen if role not in ROLES]
    if unknown:
        raise ProvisioningError({"roles": f"Unknown role: {', '.join(unknown)}."})
    return chosen


def _require_admin(actor: Any) -> None:
    """Checked here as well as at the route: only an admin changes staff accounts."""
    from webapp.access.service import require_permission

    require_permission(actor, "admin.console")


def _user(user_id: int) -> StaffUser:
    user = StaffUser.get_or_none(StaffUser.id == user_id)
    if user is None:
        raise LookupError(user_id)
    return user


def _audit(action: str, actor: Any, object_type: str, object_id: int,
           outcome: str = "success") -> None:
    record(action, object_type=object_type, object_id=object_id, outcome=outcome,
           actor_kind="staff", actor_id=actor.id, actor_role=",".join(sorted(actor.role_set)))


def _note(user_id: int, actor_id: int | None, kind: str, detail: str, reason: str) -> None:
    AccountChange.create(staff_user=user_id, changed_by=actor_id, kind=kind,
                         detail=detail[:400], reason=reason)


def active_admin_ids() -> set[int]:
    return {user.id for user in StaffUser.select(StaffUser.id, StaffUser.roles).where(
        StaffUser.is_active == True)  # noqa: E712 (peewee builds SQL from ==)
        if "admin" in user.role_set}


# -- invitations ---------------------------------------------------------------------

def invite(actor: Any, *, username: str, full_name: str, roles: Iterable[str], reason: str,
           credentials: str = "", email: str = "") -> tuple[StaffInvitation, str]:
    """Approve a new staff member; returns the invitation and its token (shown once)."""
    _require_admin(actor)
    errors: dict[str, str] = {}
    username = (username or "").strip().lower()
    full_name = " ".join((full_name or "").split())
    credentials, email = (credentials or "").strip(), (email or "").strip()
    if not USERNAME.match(username):
        errors["username"] = ("Use 2 to 64 lower-case letters, digits, dots, dashes or "
                              "underscores, starting with a letter or digit.")
    elif StaffUser.get_or_none(StaffUser.username == username) is not None \
            or pending_invitation_for(username) is not None:
        errors["username"] = "That username is taken or already invited."
    if not full_name or len(full_name) > 200:
        errors["full_name"] = "Enter the person's full name (up to 200 characters)."
    if len(credentials) > 60:
        errors["credentials"] = "Keep credentials under 60 characters (e.g. LCSW, PhD)."
    if email and (len(email) > 254 or not EMAIL.match(email)):
        errors["email"] = "Enter an e-mail address like name@example.org, or leave it empty."
    for check in (lambda: _clean_roles(roles), lambda: _clean_reason(reason)):
        try:
            check()
        except ProvisioningError as exc:
            errors.update(exc.errors)
    if errors:
        raise ProvisioningError(errors)
    token = secrets.token_urlsafe(32)  # 256 bits
    now = utcnow()
    with db.atomic():
        invitation = StaffInvitation.create(
            token_hash=token_hash(token), username=username, full_name=full_name,
            credentials=credentials, email=email.lower(), roles=",".join(_clean_roles(roles)),
            approved_by=actor.id, reason=_clean_reason(reason), created_at=now,
            expires_at=now + INVITATION_LIFETIME)
        _audit("invite", actor, "staff_invitation", invitation.id)
    return invitation, token


def pending_invitation_for(username: str) -> StaffInvitation | None:
    return StaffInvitation.select().where(
        (StaffInvitation.username == username) & StaffInvitation.accepted_at.is_null()
        & StaffInvitation.revoked_at.is_null() & (StaffInvitation.expires_at > utcnow())).first()


def pending_invitations() -> list[StaffInvitation]:
    return list(StaffInvitation.select().where(
        StaffInvitation.accepted_at.is_null() & StaffInvitation.revoked_at.is_null()
        & (StaffInvitation.expires_at > utcnow())).order_by(StaffInvitation.created_at))


def usable_invitation(token: str, now: datetime | None = None) -> StaffInvitation:
    """The invitation behind a link, or InvitationUnusable; never says which way it failed."""
    if not token or len(token) > 100:
        raise InvitationUnusable(token)
    invitation = StaffInvitation.get_or_none(StaffInvitation.token_hash == token_hash(token))
    now = now or utcnow()
    if (invitation is None or invitation.accepted_at is not None
            or invitation.revoked_at is not None or invitation.expires_at <= now):
        raise InvitationUnusable(token)
    return invitation


def accept_invitation(token: str, password: str) -> StaffUser:
    """Create the invited account with the chosen password; the link is then spent."""
    invitation = usable_invitation(token)
    problems = password_policy.problems(password, username=invitation.username,
                                        full_name=invitation.full_name, email=invitation.email)
    if problems:
        raise ProvisioningError({"password": " ".join(problems)})
    password_hash = hash_password(password)  # slow: outside the write transaction
    approver: int = invitation.approved_by_id  # type: ignore[attr-defined]
    now = utcnow()
    with db.atomic():
        # Compare-and-set: of two tabs posting the same link, only one claims it.
        claimed = StaffInvitation.update(accepted_at=now).where(
            (StaffInvitation.id == invitation.id) & StaffInvitation.accepted_at.is_null()
            & StaffInvitation.revoked_at.is_null() & (StaffInvitation.expires_at > now)).execute()
        if not claimed or StaffUser.get_or_none(
                StaffUser.username == invitation.username) is not None:
            raise InvitationUnusable(token)
        user = StaffUser.create(
            username=invitation.username, full_name=invitation.full_name,
            credentials=invitation.credentials, email=invitation.email,
            roles=invitation.roles, password_hash=password_hash, password_changed_at=now,
            created_at=now, updated_at=now)
        StaffInvitation.update(staff_user=user.id).where(
            StaffInvitation.id == invitation.id).execute()
        _note(user.id, approver, "invited",
              f"roles: {invitation.roles}; invitation {invitation.id}", invitation.reason)
        record("create", object_type="staff_user", object_id=user.id, actor_kind="staff",
               actor_id=user.id, actor_role=invitation.roles)
    return user


def revoke_invitation(actor: Any, invitation_id: int) -> None:
    _require_admin(actor)
    with db.atomic():
        changed = StaffInvitation.update(revoked_at=utcnow()).where(
            (StaffInvitation.id == invitation_id) & StaffInvitation.accepted_at.is_null()
            & StaffInvitation.revoked_at.is_null()).execute()
        if not changed:
            raise LookupError(invitation_id)
        _audit("revoke", actor, "staff_invitation", invitation_id)


# -- changes to an existing account ---------------------------------------------------

def change_roles(actor: Any, user_id: int, roles: Iterable[str], reason: str) -> StaffUser:
    _require_admin(actor)
    chosen = _clean_roles(roles)
    why = _clean_reason(reason)
    with db.atomic():
        user = _user(user_id)
        before = ",".join(sorted(user.role_set))
        after = ",".join(chosen)
        if before == after:
            raise ProvisioningError({"roles": "Those are already this person's roles."})
        if ("admin" in user.role_set and "admin" not in chosen and user.is_active
                and active_admin_ids() == {user.id}):
            raise ProvisioningError({"roles": "This is the practice's last active admin; "
                                              "make someone else an admin first."})
        StaffUser.update(roles=after, updated_at=utcnow()).where(
            StaffUser.id == user.id).execute()
        if "supervisor" not in chosen:
            Supervision.delete().where(Supervision.supervisor == user.id).execute()
        _note(user.id, actor.id, "roles", f"{before} -> {after}", why)
        _audit("role_change", actor, "staff_user", user.id)
    return _user(user_id)


def disable(actor: Any, user_id: int, reason: str) -> StaffUser:
    """Turn an account off and end every session it has, effective on its next request."""
    _require_admin(actor)
    why = _clean_reason(reason)
    with db.atomic():
        user = _user(user_id)
        if user.id == actor.id:
            raise ProvisioningError({"reason": "You cannot disable your own account."})
        if not user.is_active:
            raise ProvisioningError({"reason": "This account is already disabled."})
        if "admin" in user.role_set and active_admin_ids() == {user.id}:
            raise ProvisioningError({"reason": "This is the practice's last active admin."})
        StaffUser.update(is_active=False, disabled_at=utcnow(), updated_at=utcnow()).where(
            StaffUser.id == user.id).execute()
        ended = end_sessions("staff", user.id)
        _note(user.id, actor.id, "disabled", f"{ended} session(s) ended", why)
        _audit("disable", actor, "staff_user", user.id)
    return _user(user_id)


def enable(actor: Any, user_id: int, reason: str) -> StaffUser:
    _require_admin(actor)
    why = _clean_reason(reason)
    with db.atomic():
        user = _user(user_id)
        if user.is_active:
            raise ProvisioningError({"reason": "This account is already active."})
        StaffUser.update(is_active=True, disabled_at=None, failed_sign_ins=0,
                         locked_until=None, updated_at=utcnow()).where(
            StaffUser.id == user.id).execute()
        _note(user.id, actor.id, "enabled", "", why)
        _audit("enable", actor, "staff_user", user.id)
    return _user(user_id)


def reset_mfa(actor: Any, user_id: int, reason: str) -> StaffUser:
    """Clear a lost authenticator: the person enrols again at their next sign-in.

    Their sessions end too, since whoever holds the lost phone may hold a session.
    """
    _require_admin(actor)
    why = _clean_reason(reason)
    with db.atomic():
        user = _user(user_id)
        mfa.reset(StaffUser, user, "staff")  # writes the audit entry
        ended = end_sessions("staff", user.id)
        _note(user.id, actor.id, "mfa_reset", f"{ended} session(s) ended", why)
    return _user(user_id)


def unlock(actor: Any, user_id: int, reason: str = "") -> bool:
    _require_admin(actor)
    why = _clean_reason(reason, required=False)
    with db.atomic():
        _user(user_id)
        was_locked = unlock_account(StaffUser, user_id)  # writes the audit entry
        _note(user_id, actor.id, "unlocked", "was locked" if was_locked else "", why)
    return was_locked


def set_supervisees(actor: Any, supervisor_id: int, supervisee_ids: Iterable[int],
                    reason: str = "") -> list[int]:
    """Replace whose caseloads a supervisor sees; returns the new list of supervisee ids."""
    _require_admin(actor)
    why = _clean_reason(reason, required=False)
    wanted = sorted(set(supervisee_ids))
    with db.atomic():
        supervisor = _user(supervisor_id)
        if "supervisor" not in supervisor.role_set:
            raise ProvisioningError({"supervisees": "Give this person the supervisor role "
                                                    "first."})
        if supervisor.id in wanted:
            raise ProvisioningError({"supervisees": "Nobody supervises themself."})
        found = {user.id: user for user in StaffUser.select().where(StaffUser.id.in_(wanted))}
        for user_id in wanted:
            user = found.get(user_id)
            if user is None or not user.role_set & {"clinician", "supervisor"}:
                raise ProvisioningError({"supervisees": "Only clinicians can be supervised."})
        current = sorted(row.supervisee_id for row in Supervision.select().where(
            Supervision.supervisor == supervisor.id))
        if current == wanted:
            return wanted
        Supervision.delete().where((Supervision.supervisor == supervisor.id)
                                   & Supervision.supervisee.not_in(wanted)).execute()
        for user_id in set(wanted) - set(current):
            Supervision.create(supervisor=supervisor.id, supervisee=user_id)
        _note(supervisor.id, actor.id, "supervision",
              f"supervisees: {','.join(map(str, wanted)) or 'none'}", why)
        _audit("supervision_change", actor, "staff_user", supervisor.id)
    return wanted


def supervisee_ids(supervisor_id: int) -> list[int]:
    return sorted(row.supervisee_id for row in Supervision.select().where(
        Supervision.supervisor == supervisor_id))


def account_changes(user_id: int) -> list[AccountChange]:
    return list(AccountChange.select().where(AccountChange.staff_user == user_id).order_by(
        AccountChange.occurred_at.desc(), AccountChange.id.desc()))
