"""Outgoing e-mail: queued with the change that causes it, sent by the worker.

    with db.atomic():
        invitation = PortalInvitation.create(...)
        queue_mail("portal_invite", address, "Your invitation to the portal", body)

`queue_mail` writes an `OutgoingMail` row inside the caller's transaction and
enqueues a task that carries the row id only. The worker runs `deliver`: it
claims an attempt, sends over SMTP with no transaction open (DESIGN: never hold
a transaction across a network call), then records the result. A failure keeps
only the error's kind and SMTP code (a server's text can echo the address) and
is retried with a growing delay, five attempts in all. Once sent, only the
envelope is kept (to, subject, when): the text may hold a one-time link or code.

With no relay configured (`smtp_host` empty, as under `make run`) nothing
leaves the box: the mail stays in the outbox (`sent_at` empty), which the admin
console shows. Subjects never carry PHI; callers write them from the practice
name alone.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from appliance.config import ConfigError, Settings
from appliance.storage import db
from webapp.audit.service import record
from webapp.core.timeutil import utcnow
from webapp.mail.models import OutgoingMail

MAX_ATTEMPTS = 5
FIRST_RETRY_SECONDS = 30  # then 2, 8 and 32 minutes
SMTP_TIMEOUT_SECONDS = 30
# Once sent, a mail's text is dropped: it may hold a one-time link or code (which
# the invitation keeps only as a hash) or, later, details of an appointment.
SENT_BODY = "(sent; the text is not kept)"


class InvalidMail(ValueError):
    """A mail the caller built wrongly (a programming error, not a person's input)."""


@dataclass(frozen=True)
class Delivery:
    """What one delivery attempt did: sent, kept (no relay), retry, failed, missing, skipped."""

    status: str
    retry_in: int = 0  # seconds, when status is "retry"
    error: str = ""


def queue_mail(purpose: str, to_address: str, subject: str, body: str) -> OutgoingMail:
    """Put a mail in the outbox, in the caller's transaction, and ask the worker to send it."""
    to_address = to_address.strip()
    if not purpose or len(purpose) > 40 or not purpose.replace("_", "").isalnum():
        raise InvalidMail("purpose must be a short code such as 'portal_code'")
    if not to_address or len(to_address) > 254 or "@" not in to_address \
            or any(c.isspace() or c in ",;<>" for c in to_address):
        raise InvalidMail("to_address must be one e-mail address")
    if not subject or len(subject) > 200 or "\n" in subject or "\r" in subject:
        raise InvalidMail("subject must be one line of at most 200 characters")
    if not body:
        raise InvalidMail("body is empty")
    with db.atomic():
        mail = OutgoingMail.create(purpose=purpose, to_address=to_address, subject=subject,
                                   body=body)
        record("mail_queued", object_type="outgoing_mail", object_id=mail.id)
    from webapp.mail.tasks import send_mail

    send_mail(mail.id)
    return mail


def outbox(limit: int = 200) -> list[OutgoingMail]:
    """Mail not sent yet, oldest first: the development outbox and anything stuck."""
    return list(OutgoingMail.select().where(OutgoingMail.sent_at.is_null())
                .order_by(OutgoingMail.created_at, OutgoingMail.id).limit(limit))


def retry_delay(attempt: int) -> int:
    """Seconds to wait after failed attempt number `attempt` (1-based)."""
    return int(FIRST_RETRY_SECONDS * 4 ** (attempt - 1))


def deliver(mail_id: int, settings: Settings) -> Delivery:
    """One attempt at sending an outbox row; what the worker's task runs."""
    mail = OutgoingMail.get_or_none(OutgoingMail.id == mail_id)
    if mail is None:
        return Delivery("missing")  # not committed yet, or its transaction rolled back
    if mail.sent_at is not None:
        return Delivery("skipped")
    if not settings.smtp_host:
        return Delivery("kept")
    if mail.attempts >= MAX_ATTEMPTS:
        return Delivery("failed", error=mail.last_error)
    with db.atomic():
        # Compare-and-set: two workers holding the same id cannot both send it.
        claimed = OutgoingMail.update(attempts=OutgoingMail.attempts + 1).where(
            (OutgoingMail.id == mail.id) & (OutgoingMail.attempts == mail.attempts)
            & OutgoingMail.sent_at.is_null()).execute()
    if not claimed:
        return Delivery("skipped")
    attempt = mail.attempts + 1
    try:
        send_now(settings, mail)  # the network call: no transaction is open here
    except (smtplib.SMTPException, OSError, ConfigError, ValueError) as exc:
        error = describe_error(exc)
        with db.atomic():
            OutgoingMail.update(last_error=error[:400]).where(
                OutgoingMail.id == mail.id).execute()
            record("mail_send", object_type="outgoing_mail", object_id=mail.id,
                   outcome="failure", actor_kind="system")
        if attempt >= MAX_ATTEMPTS:
            return Delivery("failed", error=error)
        return Delivery("retry", retry_in=retry_delay(attempt), error=error)
    with db.atomic():
        OutgoingMail.update(sent_at=utcnow(), last_error="", body=SENT_BODY).where(
            OutgoingMail.id == mail.id).execute()
        record("mail_send", object_type="outgoing_mail", object_id=mail.id,
               actor_kind="system")
    return Delivery("sent")


def build_message(settings: Settings, mail: OutgoingMail) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = mail.to_address
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(datetime.now(UTC))
    sender_domain = settings.smtp_from.rstrip(">").rpartition("@")[2] or None
    message["Message-ID"] = make_msgid(domain=sender_domain)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies
    message.set_content(mail.body)
    return message


def send_now(settings: Settings, mail: OutgoingMail) -> None:
    """Hand one message to the relay; encrypted unless the relay is on this machine."""
    message = build_message(settings, mail)
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if settings.smtp_security == "tls":
        smtp = smtplib.SMTP_SSL(settings.smtp_host, settings.smtp_port,
                                timeout=SMTP_TIMEOUT_SECONDS, context=context)
    else:
        smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port,
                            timeout=SMTP_TIMEOUT_SECONDS)
    with smtp:
        if settings.smtp_security == "starttls":
            # Raises SMTPNotSupportedError when the relay offers no STARTTLS:
            # never fall back to sending in the clear.
            smtp.starttls(context=context)
        if settings.smtp_username:
            smtp.login(settings.smtp_username, settings.smtp_password())
        smtp.send_message(message)


def describe_error(exc: BaseException) -> str:
    """The kind of failure and its SMTP code; never the server's text, which can echo
    an address, nor the mail's content."""
    kind = type(exc).__name__
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = sorted({str(code) for code, _ in exc.recipients.values()})
        return f"{kind} {' '.join(codes)}".strip()
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{kind} {exc.smtp_code}"
    if isinstance(exc, ConfigError):
        return "ConfigError: the SMTP password file cannot be read"
    if isinstance(exc, OSError) and exc.errno:
        return f"{kind} errno {exc.errno}"
    return kind
