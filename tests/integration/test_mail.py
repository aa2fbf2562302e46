"""Outgoing e-mail against a real SMTP server on loopback (aiosmtpd), and a real worker."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from appliance.config import Settings
from appliance.keys import DATABASE_KEY, load_key
from appliance.storage import connect_raw
from tests.integration.conftest import start_worker, stop_process
from tests.integration.smtp import Mailbox, free_port, self_signed_tls
from webapp.audit.models import AuditEntry
from webapp.core.timeutil import utcnow
from webapp.mail.models import OutgoingMail
from webapp.mail.service import (
    MAX_ATTEMPTS,
    SENT_BODY,
    InvalidMail,
    deliver,
    outbox,
    queue_mail,
    retry_delay,
)
from webapp.tasks import huey, unlock_queue

BODY = "Your code is 123456. It works for 10 minutes."
SUBJECT = "Your sign-in code for Riverside Counseling"


@pytest.fixture
def queue(settings: Settings) -> Iterator[None]:
    unlock_queue(settings.layout.queue, load_key(settings.layout, DATABASE_KEY))
    yield
    huey.storage.close()


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with Mailbox() as running:
        yield running


def relay(settings: Settings, port: int, security: str = "none") -> Settings:
    return settings.with_values({"smtp_host": "127.0.0.1", "smtp_port": port,
                                 "smtp_security": security,
                                 "smtp_from": "Riverside Counseling <hearth@riverside.example>"})


def queued(to: str = "marisol@mail.example") -> OutgoingMail:
    return queue_mail("portal_code", to, SUBJECT, BODY)


def fresh(mail: OutgoingMail) -> OutgoingMail:
    return OutgoingMail.get_by_id(mail.id)


def mail_entries(outcome: str) -> list[AuditEntry]:
    return list(AuditEntry.select().where((AuditEntry.action == "mail_send")
                                          & (AuditEntry.outcome == outcome)))


@pytest.mark.slow
def test_a_real_worker_sends_queued_mail(settings: Settings, queue: None, mailbox: Mailbox,
                                         worker_processes: list[subprocess.Popen[str]]) -> None:
    """Does a mail queued here reach the SMTP server through a real `hearth worker`, with
    only the row id in the encrypted queue?"""
    layout = settings.layout
    layout.config_file.write_text(
        f'smtp_host = "127.0.0.1"\nsmtp_port = {mailbox.port}\nsmtp_security = "none"\n'
        'smtp_from = "Riverside Counseling <hearth@riverside.example>"\n')
    mail = queued()

    conn = connect_raw(layout.queue, load_key(layout, DATABASE_KEY))
    try:
        [(data,)] = conn.execute("SELECT data FROM task").fetchall()
    finally:
        conn.close()
    message = huey.serializer.deserialize(data)
    assert message.name.endswith("send_mail")
    assert (message.args, message.kwargs) == ((mail.id,), {})
    assert b"marisol" not in data and b"123456" not in data

    worker = start_worker(layout)
    worker_processes.append(worker)
    [received] = mailbox.wait_for(1, timeout=60)
    assert received["Subject"] == SUBJECT
    assert received["To"] == "marisol@mail.example"
    assert received["From"] == "Riverside Counseling <hearth@riverside.example>"
    assert received["Auto-Submitted"] == "auto-generated"
    assert received.get_content().strip() == BODY
    assert mailbox.envelopes[0].rcpt_tos == ["marisol@mail.example"]

    deadline = time.monotonic() + 10
    while fresh(mail).sent_at is None and time.monotonic() < deadline:
        time.sleep(0.05)
    row = fresh(mail)
    assert row.sent_at is not None and (row.attempts, row.last_error) == (1, "")
    assert row.body == SENT_BODY  # the text (a code, here) is not kept once sent
    assert [e.object_id for e in mail_entries("success")] == [mail.id]
    _, errors = stop_process(worker)
    assert "Traceback" not in errors


def test_an_unconfigured_box_keeps_mail_in_the_outbox(settings: Settings, queue: None,
                                                      mailbox: Mailbox) -> None:
    """With no smtp_host (development), does the mail stay in the outbox, untouched?"""
    assert settings.smtp_host == ""
    mail = queued()
    outcome = deliver(mail.id, settings)
    assert outcome.status == "kept"
    row = fresh(mail)
    assert (row.sent_at, row.attempts, row.last_error) == (None, 0, "")
    assert [m.id for m in outbox()] == [mail.id]
    assert mailbox.received == []
    assert mail_entries("success") == mail_entries("failure") == []


def test_a_refusing_server_is_retried_with_backoff_then_given_up(
        settings: Settings, queue: None) -> None:
    """Is a refusal stored without the server's words (they echo the address), retried with
    growing delays, and given up after five attempts?"""
    with Mailbox(refuse="554 5.7.1 marisol@mail.example is not welcome here") as refusing:
        configured = relay(settings, refusing.port)
        mail = queued()
        delays = []
        for attempt in range(1, MAX_ATTEMPTS + 1):
            outcome = deliver(mail.id, configured)
            row = fresh(mail)
            assert row.attempts == attempt and row.sent_at is None
            assert row.last_error == "SMTPDataError 554"
            if attempt < MAX_ATTEMPTS:
                assert outcome.status == "retry"
                delays.append(outcome.retry_in)
            else:
                assert outcome.status == "failed"
        assert delays == [retry_delay(n) for n in range(1, MAX_ATTEMPTS)] == [30, 120, 480, 1920]
        assert deliver(mail.id, configured).status == "failed"
        assert fresh(mail).attempts == MAX_ATTEMPTS
    assert len(mail_entries("failure")) == MAX_ATTEMPTS
    assert mail in outbox()


def test_an_unreachable_relay_is_recorded(settings: Settings, queue: None) -> None:
    """Is a relay that does not answer recorded as a connection error, for a retry?"""
    mail = queued()
    outcome = deliver(mail.id, relay(settings, free_port()))
    assert outcome.status == "retry"
    assert fresh(mail).last_error.startswith("ConnectionRefusedError errno")


def test_the_task_schedules_its_own_retry(settings: Settings, queue: None,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Does the worker's task put a failed mail back on the queue, id only, for later?"""
    from webapp.mail import tasks

    settings.layout.config_file.write_text(
        f'smtp_host = "127.0.0.1"\nsmtp_port = {free_port()}\n'
        'smtp_security = "none"\nsmtp_from = "hearth@riverside.example"\n')
    monkeypatch.setenv("HEARTH_DATA_DIR", str(settings.layout.data_dir))
    monkeypatch.setenv("HEARTH_CONFIG_DIR", str(settings.layout.config_dir))
    mail = queued()
    huey.flush()
    try:
        assert tasks.send_mail.call_local(mail.id) == "retry"
        [scheduled] = huey.pending()  # the consumer moves it to its schedule on reading
        assert scheduled.args == (mail.id,)
        assert scheduled.eta is not None and scheduled.eta > utcnow() + timedelta(seconds=25)
        assert fresh(mail).attempts == 1
    finally:
        huey.flush()


def test_starttls_is_required_when_configured(settings: Settings, queue: None,
                                              mailbox: Mailbox) -> None:
    """Does a relay that offers no STARTTLS get nothing, rather than the mail in the clear?"""
    mail = queued()
    outcome = deliver(mail.id, relay(settings, mailbox.port, security="starttls"))
    assert outcome.status == "retry"
    assert fresh(mail).last_error == "SMTPNotSupportedError"
    assert mailbox.received == []


def test_starttls_to_a_trusted_relay(settings: Settings, queue: None, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Does STARTTLS with certificate verification deliver to a relay whose certificate the
    box trusts?"""
    context, certificate = self_signed_tls(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate))
    with Mailbox(tls_context=context) as secure:
        mail = queued()
        assert deliver(mail.id, relay(settings, secure.port, security="starttls")).status \
            == "sent"
        [received] = secure.wait_for(1)
    assert received["Subject"] == SUBJECT
    assert fresh(mail).sent_at is not None


def test_an_untrusted_certificate_is_refused(settings: Settings, queue: None,
                                             tmp_path: Path) -> None:
    """Is a relay with a certificate the box does not trust refused (no silent downgrade)?"""
    context, _ = self_signed_tls(tmp_path)
    with Mailbox(tls_context=context) as untrusted:
        mail = queued()
        outcome = deliver(mail.id, relay(settings, untrusted.port, security="starttls"))
        assert outcome.status == "retry"
        assert fresh(mail).last_error.startswith("SSLCertVerificationError")
        assert untrusted.received == []


def test_a_sent_mail_is_never_sent_twice(settings: Settings, queue: None,
                                         mailbox: Mailbox) -> None:
    """If the task runs again for a mail already sent, does nothing more go out?"""
    mail = queued()
    configured = relay(settings, mailbox.port)
    assert deliver(mail.id, configured).status == "sent"
    assert deliver(mail.id, configured).status == "skipped"
    assert deliver(mail.id + 1000, configured).status == "missing"
    mailbox.wait_for(1)
    time.sleep(0.2)
    assert len(mailbox.received) == 1
    assert outbox() == []


@pytest.mark.parametrize("purpose, to, subject, body", [
    ("portal code", "a@mail.example", SUBJECT, BODY),
    ("portal_code", "a@mail.example, b@mail.example", SUBJECT, BODY),
    ("portal_code", "nobody", SUBJECT, BODY),
    ("portal_code", "a@mail.example", "Line one\nBcc: b@mail.example", BODY),
    ("portal_code", "a@mail.example", "x" * 201, BODY),
    ("portal_code", "a@mail.example", SUBJECT, ""),
])
def test_badly_built_mail_is_refused(settings: Settings, queue: None, purpose: str, to: str,
                                     subject: str, body: str) -> None:
    """Is a mail with a bad purpose, several or no addresses, or a header-injecting subject
    refused before anything is stored or queued?"""
    with pytest.raises(InvalidMail):
        queue_mail(purpose, to, subject, body)
    assert OutgoingMail.select().count() == 0
    assert huey.pending_count() == 0
