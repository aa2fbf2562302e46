"""Enrolment: turning a portal invitation into a sign-in account.

    invitation = usable(token)                        # None: expired, used or revoked
    send_code(invitation.id, date(1990, 4, 2), settings)   # right birth date: e-mails a code
    check_code(invitation.id, "123456")
    account = create_account(invitation.id, username, password, again)
    # a guardian who already has an account (invited for a sibling) confirms instead:
    account = link_existing_account(invitation.id, password)

Three things prove the person: the link (sent to the contact on file), the
client's date of birth, and a 6-digit code e-mailed to the same address (kept as
an argon2 hash, good for 10 minutes, used once). Wrong dates, codes and
passwords count together; the fifth locks the invitation (it is revoked) and
staff must send a new one. A refusal changes nothing else.

A guardian invited for a second minor with the same e-mail address gets a link
on their existing account, not a second account: after the birth date and the
code, they confirm with that account's password.
"""

from __future__ import annotations

import secrets
from datetime import date, timedelta
from typing import Any

import peewee

from appliance.config import Settings
from appliance.storage import db
from webapp.audit.service import record
from webapp.clients.models import Client, Guardian
from webapp.core.password_policy import problems
from webapp.core.passwords import hash_password, verify_password
from webapp.core.sessions import token_hash
from webapp.core.timeutil import utcnow
from webapp.mail.service import queue_mail
from webapp.portal.models import ClientAccount, PortalInvitation, PortalLink

MAX_ATTEMPTS = 5
CODE_MINUTES = 10
RESEND_SECONDS = 60  # a second right birth date within this time sends no second mail

UNUSABLE = ("This invitation link can no longer be used: it has expired (links last 72 "
            "hours), it was used already, or it was cancelled. Please ask the practice to "
            "send you a new invitation.")
LOCKED = ("Too many wrong answers: this invitation is now locked. Please ask the practice "
          "to send you a new invitation.")
CONTACT_CHANGED = ("The contact details on file have changed since this invitation was sent. "
                   "Please ask the practice to send you a new invitation.")


class EnrolmentError(ValueError):
    """A refusal to show on the page; nothing was changed but the attempt count."""


class InvitationUnusable(EnrolmentError):
    """The invitation cannot go further (expired, used, revoked or locked)."""


class InvalidAccount(EnrolmentError):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


def _is_open(invitation: PortalInvitation) -> bool:
    return (invitation.accepted_at is None and invitation.revoked_at is None
            and invitation.expires_at > utcnow())


def usable(token: str) -> PortalInvitation | None:
    """The invitation this link belongs to, if it can still be used."""
    if not token or len(token) > 100:
        return None
    invitation = PortalInvitation.get_or_none(PortalInvitation.token_hash == token_hash(token))
    return invitation if invitation is not None and _is_open(invitation) else None


def load(invitation_id: int) -> PortalInvitation:
    invitation = PortalInvitation.get_or_none(PortalInvitation.id == invitation_id)
    if invitation is None or not _is_open(invitation):
        raise InvitationUnusable(UNUSABLE)
    return invitation


def _audit(action: str, invitation: PortalInvitation, outcome: str = "success") -> None:
    record(action, object_type="portal_invitation", object_id=invitation.id,
           client_id=invitation.client_id, outcome=outcome)


def _failed(invitation: PortalInvitation, step: str, message: str) -> EnrolmentError:
    """Count a wrong answer; the fifth locks the invitation. Returns the error to raise."""
    with db.atomic():
        PortalInvitation.update(attempts=PortalInvitation.attempts + 1).where(
            PortalInvitation.id == invitation.id).execute()
        attempts = PortalInvitation.get_by_id(invitation.id).attempts
        locked = attempts >= MAX_ATTEMPTS
        if locked:
            PortalInvitation.update(revoked_at=utcnow()).where(
                (PortalInvitation.id == invitation.id)
                & PortalInvitation.revoked_at.is_null()).execute()
        _audit(f"portal_enrol_{step}", invitation, "locked" if locked else "failure")
    if locked:
        return InvitationUnusable(LOCKED)
    left = MAX_ATTEMPTS - attempts
    return EnrolmentError(f"{message} {left} {'try' if left == 1 else 'tries'} left before "
                          "this invitation locks.")


def contact_on_file(invitation: PortalInvitation) -> str:
    """The address on the record now: the guardian's, or the client's."""
    if invitation.guardian_id is not None:
        guardian = Guardian.get_or_none(Guardian.id == invitation.guardian_id)
        address = guardian.email if guardian is not None else ""
    else:
        address = Client.get_by_id(invitation.client_id).email
    return str(address).strip().lower()


def code_mail(settings: Settings, code: str) -> tuple[str, str]:
    practice = settings.practice_name
    body = (f"Your one-time code for setting up your {practice} client portal account is:\n\n"
            f"    {code}\n\nIt works for {CODE_MINUTES} minutes. If you did not ask for it, "
            f"someone may have your invitation link: please call {practice}.\n")
    return f"Your sign-in code for {practice}", body


def send_code(invitation_id: int, born: date | None, settings: Settings) -> None:
    """Check the client's date of birth; when right, e-mail a fresh 6-digit code."""
    invitation = load(invitation_id)
    client = Client.get_by_id(invitation.client_id)
    if born is None or born != client.date_of_birth:
        raise _failed(invitation, "birth_date", "That date of birth does not match our records.")
    address = contact_on_file(invitation)
    if address != invitation.sent_to:
        with db.atomic():
            PortalInvitation.update(revoked_at=utcnow()).where(
                PortalInvitation.id == invitation.id).execute()
            _audit("portal_enrol_birth_date", invitation, "contact_changed")
        raise InvitationUnusable(CONTACT_CHANGED)
    now = utcnow()
    sent_at = (invitation.code_expires_at - timedelta(minutes=CODE_MINUTES)
               if invitation.code_expires_at else None)
    if invitation.code_hash and sent_at and now - sent_at < timedelta(seconds=RESEND_SECONDS):
        return  # the code sent a moment ago is on its way
    code = f"{secrets.randbelow(10**6):06d}"
    subject, body = code_mail(settings, code)
    with db.atomic():
        PortalInvitation.update(code_hash=hash_password(code),
                                code_expires_at=now + timedelta(minutes=CODE_MINUTES)).where(
            PortalInvitation.id == invitation.id).execute()
        queue_mail("portal_code", address, subject, body)
        _audit("portal_enrol_birth_date", invitation)


def check_code(invitation_id: int, code: str) -> None:
    """Accept the e-mailed code once, within its 10 minutes."""
    invitation = load(invitation_id)
    code = "".join(code.split())
    if not invitation.code_hash or invitation.code_expires_at is None:
        raise EnrolmentError("Enter the date of birth first: we then e-mail you a code.")
    if invitation.code_expires_at <= utcnow():
        raise EnrolmentError("That code has expired. Enter the date of birth again and we "
                             "will e-mail you a new one.")
    if len(code) != 6 or not code.isdecimal() \
            or not verify_password(invitation.code_hash, code):
        raise _failed(invitation, "code", "That code is not right.")
    with db.atomic():
        used = PortalInvitation.update(code_hash="").where(
            (PortalInvitation.id == invitation.id)
            & (PortalInvitation.code_hash == invitation.code_hash)).execute()
        if not used:
            raise EnrolmentError("That code was used already. Enter the date of birth again "
                                 "for a new one.")
        _audit("portal_enrol_code", invitation)


def existing_account(invitation: PortalInvitation) -> ClientAccount | None:
    """For a guardian's invitation: their account from a sibling's enrolment, if any."""
    if invitation.guardian_id is None:
        return None
    return (ClientAccount.select().join(PortalLink)
            .join(Guardian, on=(PortalLink.guardian == Guardian.id))
            .where(ClientAccount.is_active & (peewee.fn.LOWER(Guardian.email)
                                              == invitation.sent_to))
            .order_by(ClientAccount.id).first())


def _person_name(invitation: PortalInvitation) -> str:
    if invitation.guardian_id is not None:
        guardian = Guardian.get_or_none(Guardian.id == invitation.guardian_id)
        return guardian.full_name if guardian is not None else ""
    return str(Client.get_by_id(invitation.client_id).legal_name)


def _accept(invitation: PortalInvitation, account_id: int | None = None) -> None:
    """Mark used, once: two browsers finishing the same invitation cannot both succeed."""
    accepted = PortalInvitation.update(accepted_at=utcnow(), account=account_id).where(
        (PortalInvitation.id == invitation.id) & PortalInvitation.accepted_at.is_null()
        & PortalInvitation.revoked_at.is_null()
        & (PortalInvitation.expires_at > utcnow())).execute()
    if not accepted:
        raise InvitationUnusable(UNUSABLE)


def create_account(invitation_id: int, username: str, password: str,
                   again: str) -> ClientAccount:
    """The new account and its link to the client; the invitation is used up."""
    invitation = load(invitation_id)
    if existing_account(invitation) is not None:
        raise EnrolmentError("You already have a portal account: confirm with its password.")
    username = username.strip().lower()
    errors: dict[str, str] = {}
    if not 3 <= len(username) <= 254 or any(c.isspace() for c in username):
        errors["username"] = "Choose a username of 3 to 254 characters, without spaces."
    elif ClientAccount.select().where(ClientAccount.username == username).exists():
        errors["username"] = "That username is taken. Please choose another."
    found = problems(password, username=username, full_name=_person_name(invitation),
                     email=invitation.sent_to)
    if found:
        errors["password"] = " ".join(found)
    elif password != again:
        errors["password_again"] = "The two passwords are not the same."  # noqa: S105
    if errors:
        raise InvalidAccount(errors)
    password_hash = hash_password(password)
    try:
        with db.atomic():
            account = ClientAccount.create(username=username, client=invitation.client_id,
                                           password_hash=password_hash,
                                           guardian=invitation.guardian_id)
            PortalLink.create(account=account.id, client=invitation.client_id,
                              guardian=invitation.guardian_id)
            _accept(invitation, account.id)
            record("portal_enrol", object_type="client_account", object_id=account.id,
                   client_id=invitation.client_id)
    except peewee.IntegrityError as exc:
        raise InvalidAccount({"username": "That username is taken. Please choose another."}
                             ) from exc
    return account


def link_existing_account(invitation_id: int, password: str) -> ClientAccount:
    """A guardian's existing account gains this minor, once they give its password."""
    invitation = load(invitation_id)
    account = existing_account(invitation)
    if account is None:
        raise EnrolmentError("There is no account to add this client to: choose a username.")
    if not verify_password(account.password_hash, password):
        raise _failed(invitation, "password", "That password is not right.")
    with db.atomic():
        _accept(invitation, account.id)
        PortalLink.insert(account=account.id, client=invitation.client_id,
                          guardian=invitation.guardian_id).on_conflict_ignore().execute()
        record("portal_link", object_type="client_account", object_id=account.id,
               client_id=invitation.client_id)
    return account


def describe(invitation: PortalInvitation) -> dict[str, Any]:
    """What the enrolment pages may say: whether a guardian is enrolling, and a hint of the
    address the code goes to (masked: whoever holds the link may not own the mailbox)."""
    local, _, domain = invitation.sent_to.partition("@")
    return {"for_guardian": invitation.guardian_id is not None,
            "sent_to": f"{local[:1]}•••@{domain}",
            "existing": existing_account(invitation) is not None}
