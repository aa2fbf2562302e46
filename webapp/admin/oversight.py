"""What the admin watches: locked accounts, the development outbox, the dashboard warnings.

    for warning in dashboard_warnings(settings): ...

Reads only, apart from unlocking; unlocking goes through `webapp.core.signin`
(portal accounts) or `webapp.core.provisioning` (staff, with an AccountChange row).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from webapp.access.service import pending_reviews
from webapp.admin.service import lacking_baa
from webapp.audit.alerts import current_alerts
from webapp.audit.service import record
from webapp.core.models import StaffUser
from webapp.core.signin import unlock_account
from webapp.core.timeutil import utcnow
from webapp.mail.models import OutgoingMail
from webapp.portal.models import ClientAccount

OUTBOX_PAGE = 100


@dataclass(frozen=True)
class LockedAccount:
    kind: str  # "staff" or "portal"
    id: int
    username: str
    locked_until: Any
    failed_sign_ins: int


def locked_accounts() -> list[LockedAccount]:
    now = utcnow()
    found = []
    for kind, model in (("staff", StaffUser), ("portal", ClientAccount)):
        for account in model.select(model.id, model.username, model.locked_until,
                                    model.failed_sign_ins).where(
                model.locked_until > now).order_by(model.locked_until):
            found.append(LockedAccount(kind, account.id, account.username,
                                       account.locked_until, account.failed_sign_ins))
    return found


def unlock_portal_account(account_id: int) -> bool:
    return unlock_account(ClientAccount, account_id)  # writes the audit entry


def outbox(limit: int = OUTBOX_PAGE) -> list[OutgoingMail]:
    """The newest messages first. Bodies may name a client, so reading the list is audited."""
    rows = list(OutgoingMail.select().order_by(OutgoingMail.created_at.desc(),
                                               OutgoingMail.id.desc()).limit(limit))
    record("view", object_type="outbox")
    return rows


def outgoing_message(mail_id: int) -> OutgoingMail:
    mail = OutgoingMail.get_or_none(OutgoingMail.id == mail_id)
    if mail is None:
        raise LookupError(mail_id)
    record("view", object_type="outgoing_mail", object_id=mail.id)
    return mail


@dataclass(frozen=True)
class ConsoleWarning:
    message: str
    endpoint: str  # the console page where the admin deals with it
    args: tuple[tuple[str, Any], ...] = ()  # that page's query string (ids and codes only)


def dashboard_warnings(settings: Any) -> list[ConsoleWarning]:
    warnings = [ConsoleWarning(f"{entry.vendor} ({entry.service}) has no current business "
                               "associate agreement.", "admin_register.index")
                for entry in lacking_baa(settings)]
    alerts = current_alerts(settings.layout)  # webapp.audit.alerts: bursts, chain, break-glass
    warnings += [ConsoleWarning(alert.message, alert.endpoint, alert.args) for alert in alerts]
    waiting = len(pending_reviews())
    if waiting and not any(alert.kind == "break_glass" for alert in alerts):
        warnings.append(ConsoleWarning(
            f"{waiting} break-glass access{'es' if waiting > 1 else ''} waiting for review.",
            "admin_break_glass.index"))
    locked = locked_accounts()
    if locked:
        warnings.append(ConsoleWarning(
            f"{len(locked)} account{'s' if len(locked) > 1 else ''} locked after failed "
            "sign-ins.", "admin_lockouts.index"))
    return warnings
