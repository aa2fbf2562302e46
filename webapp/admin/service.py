"""The business associates register, its documents, and the console's warnings.

    sync_configured_services(settings)   # at staff-app start and in `hearth check`
    lacking_baa()                        # entries the dashboard and the check warn about

Every outside service an admin configures in hearth.toml appears in the register
by itself (a "missing" BAA until the admin records one). Adding a service later
is one line in `CONFIGURED_SERVICES`. An entry is covered when its BAA is signed
(or not required because it never touches PHI) and its review date has not passed.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlsplit

from appliance.storage import db
from webapp.admin.models import BAA_STATUSES, BusinessAssociate, BusinessAssociateDocument
from webapp.audit.service import record
from webapp.core.timeutil import utcnow

# (config_key, the Settings attribute that switches the service on, what it is)
CONFIGURED_SERVICES: list[tuple[str, str, str]] = [
    ("smtp", "smtp_host", "E-mail relay (SMTP)"),
    ("sms", "sms_gateway_url", "SMS gateway"),
    ("backup_remote", "backup_remote_host", "Remote backup destination"),
]

DOCUMENT_KINDS = {"agreement": "Business associate agreement",
                  "due_diligence": "Due-diligence document"}
MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
# Checked against the file's first bytes, never the name or the browser's claim.
_MAGIC = ((b"%PDF-", "application/pdf"), (b"\x89PNG\r\n\x1a\n", "image/png"),
          (b"\xff\xd8\xff", "image/jpeg"))
STATUS_LABELS = {"missing": "Missing", "requested": "Requested", "signed": "Signed",
                 "not_required": "Not required (no PHI)", "expired": "Expired"}


class InvalidEntry(ValueError):
    """Bad register input; `errors` maps form fields to messages."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


def configured_services(settings: Any) -> dict[str, tuple[str, str]]:
    """config_key -> (vendor as configured, service label), for services switched on."""
    found = {}
    for key, attribute, label in CONFIGURED_SERVICES:
        value = getattr(settings, attribute, None)
        if value:
            text = str(value).strip()
            vendor = urlsplit(text).hostname or text if "://" in text else text
            found[key] = (vendor, label)
    return found


def sync_configured_services(settings: Any) -> list[BusinessAssociate]:
    """Add a register entry for each configured service that has none; never edits one."""
    entries = []
    for key, (vendor, label) in configured_services(settings).items():
        with db.atomic():
            entry = BusinessAssociate.get_or_none(BusinessAssociate.config_key == key)
            if entry is None:
                entry = BusinessAssociate.create(
                    vendor=vendor[:200], service=label, touches_phi=True, baa_status="missing",
                    config_key=key, notes="Added by Hearth because this service is set up "
                                          "in hearth.toml.")
                record("create", object_type="business_associate", object_id=entry.id,
                       actor_kind="system")
        entries.append(entry)
    return entries


def has_current_baa(entry: BusinessAssociate, today: date | None = None) -> bool:
    today = today or utcnow().date()
    if entry.review_due_on is not None and entry.review_due_on < today:
        return False
    if entry.baa_status == "signed":
        return True
    return entry.baa_status == "not_required" and not entry.touches_phi


def lacking_baa(settings: Any, today: date | None = None) -> list[BusinessAssociate]:
    """Configured services, and entries the admin added that touch PHI, without a current
    BAA. An automatic entry for a service no longer configured is history, not a warning."""
    configured = set(configured_services(settings))
    return [entry for entry in BusinessAssociate.select().order_by(BusinessAssociate.vendor)
            if (entry.config_key in configured or (entry.config_key is None
                                                    and entry.touches_phi))
            and not has_current_baa(entry, today)]


def register() -> list[BusinessAssociate]:
    return list(BusinessAssociate.select().order_by(BusinessAssociate.vendor,
                                                    BusinessAssociate.id))


def get_entry(entry_id: int) -> BusinessAssociate:
    entry = BusinessAssociate.get_or_none(BusinessAssociate.id == entry_id)
    if entry is None:
        raise LookupError(entry_id)
    return entry


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    errors = {}
    vendor = " ".join(str(values.get("vendor") or "").split())
    service = " ".join(str(values.get("service") or "").split())
    status = values.get("baa_status") or ""
    signed_on, review_due_on = values.get("baa_signed_on"), values.get("review_due_on")
    notes = str(values.get("notes") or "").strip()
    if not vendor or len(vendor) > 200:
        errors["vendor"] = "Enter the vendor's name (up to 200 characters)."
    if not service or len(service) > 200:
        errors["service"] = "Say what they do for the practice (up to 200 characters)."
    if status not in BAA_STATUSES:
        errors["baa_status"] = "Choose a BAA status from the list."
    elif status == "signed" and signed_on is None:
        errors["baa_signed_on"] = "Enter the date the agreement was signed."
    elif status == "not_required" and values.get("touches_phi"):
        errors["baa_status"] = "A vendor that touches PHI needs a BAA."
    if signed_on and signed_on > utcnow().date():
        errors["baa_signed_on"] = "The signing date cannot be in the future."
    if signed_on and review_due_on and review_due_on < signed_on:
        errors["review_due_on"] = "The review date must come after the signing date."
    if len(notes) > 4000:
        errors["notes"] = "Keep notes under 4000 characters."
    if errors:
        raise InvalidEntry(errors)
    return {"vendor": vendor, "service": service, "touches_phi": bool(values.get("touches_phi")),
            "baa_status": status, "baa_signed_on": signed_on, "review_due_on": review_due_on,
            "notes": notes}


def save_entry(values: dict[str, Any], entry_id: int | None = None) -> BusinessAssociate:
    """Create (entry_id None) or update a register entry from the form's values."""
    cleaned = _clean(values)
    with db.atomic():
        if entry_id is None:
            entry = BusinessAssociate.create(**cleaned)
            record("create", object_type="business_associate", object_id=entry.id)
        else:
            entry = get_entry(entry_id)
            BusinessAssociate.update(**cleaned, updated_at=utcnow()).where(
                BusinessAssociate.id == entry.id).execute()
            record("update", object_type="business_associate", object_id=entry.id)
    return get_entry(entry.id)


def content_type_of(content: bytes) -> str | None:
    for magic, content_type in _MAGIC:
        if content.startswith(magic):
            return content_type
    return None


def add_document(entry_id: int, kind: str, filename: str, content: bytes,
                 uploaded_by: int | None) -> BusinessAssociateDocument:
    if kind not in DOCUMENT_KINDS:
        raise InvalidEntry({"kind": "Choose what kind of document this is."})
    if not content:
        raise InvalidEntry({"document": "Choose a file to upload."})
    if len(content) > MAX_DOCUMENT_BYTES:
        raise InvalidEntry({"document": "The file is larger than 10 MB."})
    content_type = content_type_of(content)
    if content_type is None:
        raise InvalidEntry({"document": "Upload a PDF, PNG or JPEG file."})
    name = "".join(ch for ch in filename.replace("\\", "/").rsplit("/", 1)[-1]
                   if ch.isprintable() and ch not in '"<>')[:200] or "document"
    with db.atomic():
        entry = get_entry(entry_id)
        document = BusinessAssociateDocument.create(
            business_associate=entry.id, kind=kind, filename=name, content_type=content_type,
            content=content, uploaded_by=uploaded_by)
        record("upload", object_type="business_associate_document", object_id=document.id)
    return document


def documents(entry_id: int) -> list[BusinessAssociateDocument]:
    """The entry's documents without their bytes (a list needs only the names)."""
    return list(BusinessAssociateDocument.select(
        BusinessAssociateDocument.id, BusinessAssociateDocument.kind,
        BusinessAssociateDocument.filename, BusinessAssociateDocument.content_type,
        BusinessAssociateDocument.uploaded_at).where(
        BusinessAssociateDocument.business_associate == entry_id).order_by(
        BusinessAssociateDocument.uploaded_at.desc()))


def read_document(document_id: int) -> BusinessAssociateDocument:
    document = BusinessAssociateDocument.get_or_none(BusinessAssociateDocument.id == document_id)
    if document is None:
        raise LookupError(document_id)
    record("download", object_type="business_associate_document", object_id=document.id)
    return document
