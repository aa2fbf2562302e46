"""What a signed-in portal account may see, and its optional two-step sign-in.

    clients = linked_clients(current_user)          # the only clients its pages show
    client = viewing(current_user, session.get(VIEWING_KEY))
    choose(current_user, client_id)                  # NotLinked unless linked

Every portal page is scoped to the clients linked to the account (`PortalLink`):
a client's own record, or the minors a guardian was invited for. A guardian with
several chooses one; the choice lives in the server-side session and only a
linked id is ever accepted. Invitation and enrolment make the links
(`webapp.portal.invitations`, `webapp.portal.enrolment`).
"""

from __future__ import annotations

from typing import Any

from webapp.audit.service import record
from webapp.clients.models import Client
from webapp.core import mfa
from webapp.core.passwords import verify_password
from webapp.portal.models import ClientAccount, PortalLink

VIEWING_KEY = "portal_client_id"
PORTAL = "portal"  # RecoveryCode.app


class NotLinked(PermissionError):
    """The account is not linked to that client."""


class TotpError(ValueError):
    """Why two-step sign-in was not changed; the message is for the page."""


def linked_clients(account: Any) -> list[Client]:
    return list(Client.select().join(PortalLink, on=(PortalLink.client == Client.id))
                .where(PortalLink.account == account.id)
                .order_by(Client.sort_name, Client.id))


def viewing(account: Any, chosen_id: Any) -> Client | None:
    """The client the account's pages show: the chosen one if linked, else the first."""
    clients = linked_clients(account)
    chosen = next((c for c in clients if c.id == chosen_id), None)
    return chosen or (clients[0] if clients else None)


def choose(account: Any, client_id: int) -> Client:
    """Switch the pages to another linked client (a guardian with several minors)."""
    chosen = next((c for c in linked_clients(account) if c.id == client_id), None)
    if chosen is None:
        record("permission_denied", object_type="client", object_id=client_id,
               client_id=client_id, outcome="denied")
        raise NotLinked(client_id)
    record("portal_choose", object_type="client", object_id=chosen.id, client_id=chosen.id)
    return chosen


# -- two-step sign-in (TOTP), optional for portal accounts ---------------------------

def enrolment_qr(account: Any, secret: str, practice_name: str) -> str:
    return mfa.qr_svg(mfa.provisioning_uri(secret, account.username, practice_name))


def _refuse(account: Any, message: str) -> TotpError:
    record("mfa", object_type="client_account", object_id=account.id, outcome="failure")
    return TotpError(message)


def turn_on_totp(account: Any, secret: str, password: str, code: str) -> list[str]:
    """Enrol after the password and a code from the app; returns the recovery codes once."""
    if account.mfa_secret:
        raise TotpError("Two-step sign-in is already on.")
    if not secret:
        raise TotpError("Start again: the set-up page has expired.")
    if not verify_password(account.password_hash, password):
        raise _refuse(account, "That password is not right.")
    if not mfa.enrol(ClientAccount, account, secret, code):
        raise _refuse(account, "That code is not right. Check the time on your phone, "
                               "then enter the code the app shows now.")
    return mfa.new_recovery_codes(PORTAL, account.id)


def turn_off_totp(account: Any, password: str, code: str) -> None:
    """Turn TOTP off: the password and a current code (or a recovery code) are required."""
    if not account.mfa_secret:
        raise TotpError("Two-step sign-in is already off.")
    if not verify_password(account.password_hash, password):
        raise _refuse(account, "That password is not right.")
    if not (mfa.accept_code(ClientAccount, account, code)
            or mfa.use_recovery_code(PORTAL, account.id, code)):
        raise _refuse(account, "That code is not right, or it was used already.")
    mfa.reset(ClientAccount, account, PORTAL)


def recovery_codes_left(account: Any) -> int:
    return mfa.recovery_codes_left(PORTAL, account.id)
