"""The business associates register: configured services appear by themselves, `hearth
check` warns until their BAA is current, and documents are checked before they are kept."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, timedelta
from io import BytesIO
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from appliance.config import Settings
from appliance.paths import Layout
from tests.conftest import run_hearth
from tests.integration.conftest import release_database
from tests.integration.web.conftest import (  # noqa: F401 (cheap hashes: an autouse fixture)
    _cheap_password_hashes,
    audit_entries,
    page_token,
    signed_in,
    text_of,
)
from webapp import create_staff_app
from webapp.admin import service
from webapp.admin.models import BusinessAssociate, BusinessAssociateDocument
from webapp.core.timeutil import utcnow

SMTP = {"smtp_host": "relay.example.net", "smtp_from": "hearth@example.org"}
PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def ba_check(layout: Layout) -> dict[str, str]:
    release_database()
    result = run_hearth(layout, "check", "--json")
    assert "Traceback" not in result.stderr, result.stderr
    [found] = [r for r in json.loads(result.stdout)
               if r["name"] == "business associate agreements"]
    return found


def configure_smtp(layout: Layout) -> None:
    layout.config_file.write_text("".join(f'{k} = "{v}"\n' for k, v in SMTP.items()))


def test_a_configured_smtp_relay_appears_by_itself(settings: Settings) -> None:
    """Does starting the staff app with an SMTP relay add a 'missing' entry for it, once,
    and leave alone what the admin later fills in?"""
    app = create_staff_app(replace(settings, **SMTP))
    [entry] = BusinessAssociate.select()
    assert (entry.config_key, entry.vendor, entry.service, entry.baa_status,
            entry.touches_phi) == ("smtp", "relay.example.net", "E-mail relay (SMTP)",
                                   "missing", True)
    assert audit_entries(action="create", object_type="business_associate")
    BusinessAssociate.update(vendor="Example Mail Inc.", baa_status="requested").execute()
    service.sync_configured_services(replace(settings, smtp_host="other.example.net",
                                             smtp_from="hearth@example.org"))
    [entry] = BusinessAssociate.select()
    assert (entry.vendor, entry.baa_status) == ("Example Mail Inc.", "requested")
    assert app.config["HEARTH_SETTINGS"].smtp_host == "relay.example.net"


def test_nothing_is_added_without_configured_services(settings: Settings) -> None:
    create_staff_app(settings)
    assert BusinessAssociate.select().count() == 0
    assert service.lacking_baa(settings) == []


def test_services_are_found_by_attribute_name() -> None:
    """A later issue adds a service with one line: any attribute in the registry counts,
    and a URL is shown by its host."""
    class Configured:
        sms_gateway_url = "https://sms.example.com/api/v2"
        backup_remote_host = ""

    assert service.configured_services(Configured()) == {
        "sms": ("sms.example.com", "SMS gateway")}


def test_hearth_check_warns_until_the_baa_is_signed(settings: Settings) -> None:
    """Does `hearth check --json` warn (not fail) naming the relay until its BAA is
    signed, and again once the review date has passed?"""
    configure_smtp(settings.layout)
    result = ba_check(settings.layout)
    assert result["status"] == "warn"
    assert "relay.example.net (E-mail relay (SMTP))" in result["detail"]

    entry = BusinessAssociate.get(BusinessAssociate.config_key == "smtp")
    today = utcnow().date()
    service.save_entry({"vendor": entry.vendor, "service": entry.service, "touches_phi": True,
                        "baa_status": "signed", "baa_signed_on": today - timedelta(days=3),
                        "review_due_on": today + timedelta(days=365), "notes": ""}, entry.id)
    assert ba_check(settings.layout) == {"name": "business associate agreements",
                                         "status": "ok",
                                         "detail": "every configured service has a current BAA"}

    BusinessAssociate.update(review_due_on=today - timedelta(days=1)).execute()
    assert ba_check(settings.layout)["status"] == "warn"


def test_current_baa_rules() -> None:
    today = date(2026, 6, 1)

    def entry(**values: Any) -> BusinessAssociate:
        return BusinessAssociate(vendor="V", service="S", **values)

    assert service.has_current_baa(entry(baa_status="signed"), today)
    assert service.has_current_baa(entry(baa_status="signed", review_due_on=today), today)
    assert not service.has_current_baa(entry(baa_status="signed",
                                             review_due_on=date(2026, 5, 31)), today)
    assert not service.has_current_baa(entry(baa_status="requested"), today)
    assert not service.has_current_baa(entry(baa_status="expired"), today)
    assert service.has_current_baa(entry(baa_status="not_required", touches_phi=False), today)
    assert not service.has_current_baa(entry(baa_status="not_required", touches_phi=True),
                                       today)


# -- the register in the console ----------------------------------------------------------

@pytest.fixture
def admin_client(staff_app: Flask) -> FlaskClient:
    return signed_in(staff_app, "aadmin", ["admin"], "Ada Admin")


def register_form(**changes: Any) -> dict[str, Any]:
    values = {"vendor": "Cloud Fax Co", "service": "Fax to insurers", "touches_phi": "y",
              "baa_status": "signed", "baa_signed_on": "2026-01-15",
              "review_due_on": "2099-01-15", "notes": "Signed by the owner"}
    values.update(changes)
    return {k: v for k, v in values.items() if v is not None}


def test_add_and_edit_an_entry(admin_client: FlaskClient) -> None:
    token = page_token(admin_client, "/admin/business-associates/new")
    response = admin_client.post("/admin/business-associates/new",
                                 data={"csrf_token": token, **register_form()})
    assert response.status_code == 302
    entry = BusinessAssociate.get()
    assert (entry.vendor, entry.baa_status, entry.baa_signed_on, entry.touches_phi) == (
        "Cloud Fax Co", "signed", date(2026, 1, 15), True)
    assert entry.config_key is None
    edit = f"/admin/business-associates/{entry.id}/edit"
    assert "Cloud Fax Co" in text_of(admin_client.get(edit))
    response = admin_client.post(edit, data={"csrf_token": token, **register_form(
        baa_status="expired")})
    assert response.status_code == 302
    assert BusinessAssociate.get().baa_status == "expired"
    assert "Cloud Fax Co (Fax to insurers) has no current" in text_of(
        admin_client.get("/admin/"))
    assert [e.action for e in audit_entries(object_type="business_associate")] == [
        "create", "update"]


@pytest.mark.parametrize(("changes", "field"), [
    ({"vendor": ""}, "vendor"),
    ({"baa_status": "lost"}, "baa_status"),
    ({"baa_signed_on": ""}, "baa_signed_on"),  # signed needs a date
    ({"baa_status": "not_required"}, "baa_status"),  # touches PHI
    ({"baa_signed_on": "2099-01-01"}, "baa_signed_on"),  # in the future
    ({"review_due_on": "2025-01-01"}, "review_due_on"),  # before signing
])
def test_bad_entries_are_refused(admin_client: FlaskClient, changes: dict[str, Any],
                                 field: str) -> None:
    token = page_token(admin_client, "/admin/business-associates/new")
    response = admin_client.post("/admin/business-associates/new",
                                 data={"csrf_token": token, **register_form(**changes)})
    assert response.status_code == 400
    assert f'id="{field}-error"' in text_of(response)
    assert BusinessAssociate.select().count() == 0


def upload(browser: FlaskClient, entry_id: int, content: bytes, filename: str,
           kind: str = "agreement") -> Any:
    """POST the file as a browser does. The body is encoded here, in memory: the test
    client would spool a large one to a temporary file it never closes."""
    path = f"/admin/business-associates/{entry_id}"
    boundary, body = encode_multipart({
        "csrf_token": page_token(browser, path), "kind": kind,
        "document": FileStorage(BytesIO(content), filename)})
    return browser.post(path + "/documents", data=body, follow_redirects=True,
                        content_type=f"multipart/form-data; boundary={boundary}")


def test_documents_upload_and_download(admin_client: FlaskClient) -> None:
    """Are a PDF and a PNG kept in the database and given back byte for byte, as
    attachments, with the upload and download audited?"""
    entry = BusinessAssociate.create(vendor="Cloud Fax Co", service="Fax")
    assert "Document stored" in text_of(upload(admin_client, entry.id, PDF, "BAA 2026.pdf"))
    assert "Document stored" in text_of(upload(admin_client, entry.id, PNG, "review.png",
                                               "due_diligence"))
    documents = list(BusinessAssociateDocument.select().order_by(BusinessAssociateDocument.id))
    assert [(d.filename, d.content_type, d.kind) for d in documents] == [
        ("BAA 2026.pdf", "application/pdf", "agreement"),
        ("review.png", "image/png", "due_diligence")]
    response = admin_client.get(f"/admin/business-associates/documents/{documents[0].id}")
    assert response.data == PDF and response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="BAA 2026.pdf"')
    assert len(audit_entries(action="upload")) == 2
    assert len(audit_entries(action="download")) == 1


@pytest.mark.parametrize(("content", "filename"), [
    (b"MZ\x90\x00 this is an executable", "agreement.pdf"),
    (b"<html><script>alert(1)</script></html>", "agreement.pdf"),
    (b"GIF89a....", "scan.gif"),
    (b"", "empty.pdf"),
])
def test_upload_refuses_anything_but_pdf_png_jpeg(admin_client: FlaskClient, content: bytes,
                                                  filename: str) -> None:
    """Is a file refused by its bytes, whatever its name says, with nothing stored?"""
    entry = BusinessAssociate.create(vendor="Cloud Fax Co", service="Fax")
    page = text_of(upload(admin_client, entry.id, content, filename))
    assert "Upload a PDF, PNG or JPEG file." in page or "Choose a file" in page
    assert BusinessAssociateDocument.select().count() == 0
    assert audit_entries(action="upload") == []


def test_upload_limit_is_ten_megabytes(admin_client: FlaskClient) -> None:
    """Does a 9 MB PDF go in while an 11 MB one is refused (and the 2 MB form limit
    still holds everywhere else)?"""
    entry = BusinessAssociate.create(vendor="Cloud Fax Co", service="Fax")
    nine = PDF + b"0" * (9 * 1024 * 1024)
    assert "Document stored" in text_of(upload(admin_client, entry.id, nine, "big.pdf"))
    eleven = PDF + b"0" * (11 * 1024 * 1024)
    assert upload(admin_client, entry.id, eleven, "huge.pdf").status_code == 413
    assert BusinessAssociateDocument.select().count() == 1
    token = page_token(admin_client, "/admin/business-associates/new")
    big_form = admin_client.post("/admin/business-associates/new", data={
        "csrf_token": token, **register_form(notes="x" * (3 * 1024 * 1024))})
    assert big_form.status_code == 413
