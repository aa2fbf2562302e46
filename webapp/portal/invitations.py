"""Inviting a client, or a guardian of a minor, to the portal from the client record.

    invitation = invite(current_user, client_id, guardian_id=None, settings=settings)

The invitation e-mail goes to the address on file (the client's, or the
guardian's) and carries a one-time link: 256 random bits, of which only the
SHA-256 is stored, good for 72 hours. The mail names the practice and nothing
else. A new invitation for the same person replaces any still pending, and staff
can revoke one. Enrolment itself (date of birth, e-mailed code, password) is
`webapp.portal.enrolment`.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from appliance.config import Settings
from appliance.storage import db
from webapp.access.service import AccessDenied, require_client
from webapp.audit.service import record
from webapp.clients.models import Client, Guardian
from webapp.clients.service import ADULT_AGE, age_on
from webapp.core.models import StaffUser
from webapp.core.sessions import token_hash
from webapp.core.timeutil import today_in, utcnow
from webapp.mail.service import queue_mail
from webapp.portal.models import ClientAccount, PortalInvitation, PortalLink

INVITATION_HOURS = 72
PERMISSION = "clients.portal_invite"


class InvitationError(ValueError):
    """Why this invitation cannot be sent; the message is for the staff page."""


@dataclass(frozen=True)
class Invitee:
    """Someone the staff page offers to invite, or explains why it cannot."""

    guardian_id: int | None  # None: the client themself
    label: str
    email: str
    problem: str = ""

    @property
    def value(self) -> str:
        return "client" if self.guardian_id is None else f"guardian:{self.guardian_id}"


def is_minor(client: Client, settings: Settings) -> bool:
    return age_on(client.date_of_birth, today_in(settings.timezone)) < ADULT_AGE


def _authorise(actor: Any, client_id: int) -> Client:
    """The permission and the record scope, checked here as well as on the route."""
    if not actor.can(PERMISSION):
        record("permission_denied", object_type="portal_invitation", client_id=client_id,
               outcome="denied")
        raise AccessDenied(client_id, can_break_glass=False)
    require_client(actor, client_id)
    client = Client.get_or_none(Client.id == client_id)
    if client is None:
        raise LookupError(client_id)
    return client


def _already_enrolled(client: Client, guardian: Guardian | None) -> bool:
    links = PortalLink.select().join(ClientAccount).where(
        (PortalLink.client == client.id) & ClientAccount.is_active)
    if guardian is None:
        return bool(links.where(PortalLink.guardian.is_null()).exists())
    return bool(links.where(PortalLink.guardian == guardian.id).exists())


def invitees(client: Client, settings: Settings) -> list[Invitee]:
    """Who may be invited for this client: the client when adult, else each guardian."""
    if not is_minor(client, settings):
        problem = "" if client.email else (
            "There is no e-mail address on file for this client. Add one, then invite.")
        if not problem and _already_enrolled(client, None):
            problem = "This client already has a portal account."
        return [Invitee(None, "The client", client.email, problem)]
    found = []
    for guardian in Guardian.select().where(Guardian.client == client.id).order_by(Guardian.id):
        problem = ""
        if not guardian.has_legal_authority:
            problem = "This guardian has no legal authority to act for the client."
        elif not guardian.email:
            problem = "There is no e-mail address on file for this guardian."
        elif _already_enrolled(client, guardian):
            problem = "This guardian already has portal access for this client."
        found.append(Invitee(guardian.id, f"{guardian.full_name} ({guardian.relationship})",
                             guardian.email, problem))
    return found


def invitation_mail(settings: Settings, link: str, for_guardian: bool) -> tuple[str, str]:
    """Subject and body: the practice's name and the link, nothing about the client."""
    practice = settings.practice_name
    whose = ("the portal account for a client in your care" if for_guardian
             else "your client portal account")
    body = (f"{practice} has invited you to set up {whose}.\n\n"
            f"Open this link within {INVITATION_HOURS} hours to begin:\n{link}\n\n"
            "You will be asked for the client's date of birth, and we will e-mail you a "
            "one-time code to confirm it is you.\n\n"
            f"If you were not expecting this, ignore this message or call {practice}.\n")
    return f"Your invitation to the {practice} client portal", body


def invite(actor: Any, client_id: int, guardian_id: int | None,
           settings: Settings) -> PortalInvitation:
    """Invite the client (an adult) or one of a minor's guardians with legal authority."""
    client = _authorise(actor, client_id)
    minor = is_minor(client, settings)
    guardian: Guardian | None = None
    if guardian_id is None:
        if minor:
            raise InvitationError("A client under 18 cannot be invited themself: invite a "
                                  "guardian with legal authority instead.")
    else:
        guardian = Guardian.get_or_none((Guardian.id == guardian_id)
                                        & (Guardian.client == client.id))
        if guardian is None:
            raise InvitationError("Choose a guardian of this client.")
        if not minor:
            raise InvitationError("This client is an adult: invite the client themself.")
    offered = next((i for i in invitees(client, settings) if i.guardian_id == guardian_id), None)
    if offered is None:
        raise InvitationError("Choose someone to invite.")
    if offered.problem:
        raise InvitationError(offered.problem)
    token = secrets.token_urlsafe(32)  # 256 bits
    link = f"{settings.portal_address}/enrol/{token}"
    subject, body = invitation_mail(settings, link, guardian is not None)
    now = utcnow()
    with db.atomic():
        same_person = (PortalInvitation.guardian.is_null() if guardian_id is None
                       else PortalInvitation.guardian == guardian_id)
        for replaced in _pending(client.id).where(same_person):
            _revoke_row(replaced, now, "replaced")
        invitation = PortalInvitation.create(
            client=client.id, guardian=guardian_id, token_hash=token_hash(token),
            sent_to=offered.email.strip().lower(), invited_by=actor.id, created_at=now,
            expires_at=now + timedelta(hours=INVITATION_HOURS))
        queue_mail("portal_invite", invitation.sent_to, subject, body)
        record("portal_invite", object_type="portal_invitation", object_id=invitation.id,
               client_id=client.id)
    return invitation


def _pending(client_id: int) -> Any:
    return PortalInvitation.select().where(
        (PortalInvitation.client == client_id) & PortalInvitation.accepted_at.is_null()
        & PortalInvitation.revoked_at.is_null() & (PortalInvitation.expires_at > utcnow()))


def _revoke_row(invitation: PortalInvitation, now: Any, outcome: str) -> None:
    PortalInvitation.update(revoked_at=now).where(
        (PortalInvitation.id == invitation.id) & PortalInvitation.revoked_at.is_null()).execute()
    record("portal_invite_revoke", object_type="portal_invitation", object_id=invitation.id,
           client_id=invitation.client_id, outcome=outcome)


def pending_invitations(actor: Any, client_id: int) -> list[dict[str, Any]]:
    """Invitations still waiting to be used, newest first, with who sent them."""
    _authorise(actor, client_id)
    rows = _pending(client_id).select(PortalInvitation, StaffUser.full_name).join(
        StaffUser, on=(PortalInvitation.invited_by == StaffUser.id)).order_by(
        PortalInvitation.created_at.desc()).dicts()
    return list(rows)


def portal_accounts(actor: Any, client_id: int) -> list[dict[str, Any]]:
    """The portal accounts that can see this client (usernames, never passwords)."""
    _authorise(actor, client_id)
    return list(ClientAccount.select(ClientAccount.username, ClientAccount.is_active,
                                     ClientAccount.mfa_enrolled_at, PortalLink.guardian)
                .join(PortalLink).where(PortalLink.client == client_id)
                .order_by(ClientAccount.username).dicts())


def revoke(actor: Any, client_id: int, invitation_id: int) -> None:
    """Cancel a pending invitation: its link stops working at once."""
    _authorise(actor, client_id)
    with db.atomic():
        invitation = _pending(client_id).where(PortalInvitation.id == invitation_id).first()
        if invitation is None:
            raise InvitationError("That invitation has already been used, cancelled or has "
                                  "expired.")
        _revoke_row(invitation, utcnow(), "success")
