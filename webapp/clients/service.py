"""Client records: the only code that changes them, and each change writes its audit entry.

    client = create_client(values)                 # raises PossibleDuplicate, InvalidClient
    page = search_clients("ann", status="active")  # fragment of any name, or a birth date
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from appliance.storage import Prepared, db
from webapp.audit.service import record
from webapp.clients.models import (
    CHANNELS,
    STATUSES,
    Client,
    ClinicianAssignment,
    Guardian,
    InsurancePolicy,
)
from webapp.core.models import StaffUser
from webapp.core.timeutil import utcnow

PAGE_SIZE = 50
ADULT_AGE = 18

CLIENT_FIELDS = (
    "legal_first_name", "legal_middle_name", "legal_last_name", "preferred_name", "pronouns",
    "date_of_birth", "email", "mobile_phone", "home_phone", "preferred_channel",
    "consent_email", "consent_sms", "consent_voicemail", "address_line1", "address_line2",
    "city", "state", "postal_code", "emergency_name", "emergency_relationship",
    "emergency_phone",
)
GUARDIAN_FIELDS = ("full_name", "relationship", "phone", "email", "has_legal_authority")
POLICY_FIELDS = (
    "rank", "payer_name", "payer_id", "member_id", "group_number", "subscriber_relationship",
    "subscriber_first_name", "subscriber_last_name", "subscriber_date_of_birth",
    "effective_on", "ends_on",
)


class InvalidClient(ValueError):
    """Bad input: `errors` maps a field name to a message a person can act on."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class PossibleDuplicate(Exception):
    def __init__(self, matches: list[Client]) -> None:
        super().__init__(f"{len(matches)} client(s) with the same name and date of birth")
        self.matches = matches


class ClientNotFound(LookupError):
    pass


def fold(text: str) -> str:
    """Lower-case without accents, so 'José' and 'jose' find each other."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def search_text_for(client: Client) -> str:
    parts = (client.legal_first_name, client.legal_middle_name, client.legal_last_name,
             client.preferred_name)
    return " ".join(fold(part) for part in parts if part)


def sort_name_for(client: Client) -> str:
    return f"{fold(client.legal_last_name)} {fold(client.legal_first_name)}"


def age_on(date_of_birth: date, on: date) -> int:
    before_birthday = (on.month, on.day) < (date_of_birth.month, date_of_birth.day)
    return on.year - date_of_birth.year - before_birthday


# -- validation ---------------------------------------------------------------

PHONE_DIGITS = re.compile(r"\d")
POSTAL_CODE = re.compile(r"^\d{5}(-\d{4})?$")
STATE = re.compile(r"^[A-Z]{2}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def normalize_phone(raw: str) -> str:
    """US numbers as (555) 123-4567; anything that is not 10 digits is an error."""
    digits = "".join(PHONE_DIGITS.findall(raw))
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    if len(digits) != 10:
        raise ValueError("Enter a 10-digit phone number")
    return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"


def clean_client_values(values: dict[str, Any], today: date) -> dict[str, Any]:
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    for name in CLIENT_FIELDS:
        value = values.get(name)
        clean[name] = value.strip() if isinstance(value, str) else value
    for name in ("legal_first_name", "legal_last_name"):
        if not clean.get(name):
            errors[name] = "Required."
    for name in ("legal_first_name", "legal_middle_name", "legal_last_name", "preferred_name",
                 "pronouns", "city", "emergency_name", "emergency_relationship",
                 "address_line1", "address_line2"):
        text = clean.get(name) or ""
        clean[name] = text
        if any(unicodedata.category(c).startswith("C") for c in text):
            errors[name] = "Contains characters that are not allowed."
        elif len(text) > 100 and name not in ("address_line1", "address_line2", "emergency_name"):
            errors[name] = "Too long (100 characters at most)."
        elif len(text) > 200:
            errors[name] = "Too long (200 characters at most)."
    dob = clean.get("date_of_birth")
    if isinstance(dob, datetime):
        dob = dob.date()
    if not isinstance(dob, date):
        errors["date_of_birth"] = "Enter the date of birth."
    elif dob > today:
        errors["date_of_birth"] = "The date of birth is in the future."
    elif dob.year < 1900:
        errors["date_of_birth"] = "Check the year of birth."
    clean["date_of_birth"] = dob
    for name in ("mobile_phone", "home_phone", "emergency_phone"):
        if clean.get(name):
            try:
                clean[name] = normalize_phone(clean[name])
            except ValueError as exc:
                errors[name] = f"{exc}."
        else:
            clean[name] = ""
    email = (clean.get("email") or "").lower()
    clean["email"] = email
    if email and (len(email) > 254 or not EMAIL.match(email)):
        errors["email"] = "Enter an e-mail address like name@example.com."
    state = (clean.get("state") or "").upper()
    clean["state"] = state
    if state and not STATE.match(state):
        errors["state"] = "Use the two-letter state code."
    postal = clean.get("postal_code") or ""
    clean["postal_code"] = postal
    if postal and not POSTAL_CODE.match(postal):
        errors["postal_code"] = "Use a ZIP code like 12345 or 12345-6789."
    for name in ("consent_email", "consent_sms", "consent_voicemail"):
        clean[name] = bool(clean.get(name))
    channel = clean.get("preferred_channel") or "portal"
    clean["preferred_channel"] = channel
    if channel not in CHANNELS:
        errors["preferred_channel"] = "Choose e-mail, text, phone or portal."
    elif channel == "email" and not (email and clean["consent_email"]):
        errors["preferred_channel"] = "E-mail needs an address and the client's consent to e-mail."
    elif channel == "sms" and not (clean["mobile_phone"] and clean["consent_sms"]):
        errors["preferred_channel"] = "Text messages need a mobile number and consent to texts."
    elif channel == "phone" and not (clean["mobile_phone"] or clean["home_phone"]):
        errors["preferred_channel"] = "Phone needs a phone number."
    if clean["consent_email"] and not email:
        errors["consent_email"] = "Add an e-mail address, or leave this unticked."
    if clean["consent_sms"] and not clean["mobile_phone"]:
        errors["consent_sms"] = "Add a mobile number, or leave this unticked."
    if errors:
        raise InvalidClient(errors)
    return clean


# -- reading ------------------------------------------------------------------

@dataclass(frozen=True)
class ClientPage:
    rows: list[dict[str, Any]]
    page: int
    has_next: bool
    query: str
    status: str


DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%m-%d-%Y")


def parse_date_query(query: str) -> date | None:
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(query, fmt).date()
        except ValueError:
            continue
    return None


LIST_COLUMNS = (Client.id, Client.legal_first_name, Client.legal_last_name,
                Client.preferred_name, Client.pronouns, Client.date_of_birth, Client.status,
                Client.mobile_phone)


# The list as most people see it (a status, no search): the hottest query in the app.
_LIST_PAGE = Prepared(lambda status, limit, offset: Client.select(*LIST_COLUMNS)
                      .where(Client.status == status).order_by(Client.sort_name, Client.id)
                      .limit(limit).offset(offset).dicts())


def search_clients(query: str = "", status: str = "active", page: int = 1) -> ClientPage:
    """One page of clients, by name fragment(s) or date of birth, sorted by last name."""
    query = query.strip()[:100]
    page = max(1, min(page, 10_000))
    select = Client.select(*LIST_COLUMNS)
    if status in STATUSES:
        select = select.where(Client.status == status)
    else:
        status = "all"
    birth_date = parse_date_query(query)
    if birth_date is not None:
        select = select.where(Client.date_of_birth == birth_date)
    elif tokens := fold(query).split()[:5]:
        # Match ids on the narrow search_text index alone, then read only those rows:
        # a '%fragment%' pattern can only scan, and the index is far cheaper to scan.
        matching = Client.select(Client.id)
        for token in tokens:
            matching = matching.where(Client.search_text.contains(token))  # % and _ escaped
        select = select.where(Client.id.in_(matching))
    rows: list[dict[str, Any]]
    if not query and status != "all":
        rows = list(_LIST_PAGE.run(status, PAGE_SIZE + 1, (page - 1) * PAGE_SIZE))
    else:
        ordered = select.order_by(Client.sort_name, Client.id)
        rows = list(ordered.limit(PAGE_SIZE + 1).offset((page - 1) * PAGE_SIZE)
                    .dicts())  # type: ignore[arg-type]
    # The list shows names and birth dates: a read of PHI, recorded like any other.
    record("search" if query else "view", object_type="client_list")
    return ClientPage(rows=rows[:PAGE_SIZE], page=page, has_next=len(rows) > PAGE_SIZE,
                      query=query, status=status)


def get_client(client_id: int, audit: bool = True) -> Client:
    client = Client.get_or_none(Client.id == client_id)
    if client is None:
        raise ClientNotFound(client_id)
    if audit:
        record("view", object_type="client", object_id=client.id, client_id=client.id)
    return client


def client_overview(client: Client) -> dict[str, Any]:
    """Everything the client page shows, in a fixed, small number of queries."""
    clinicians = list(StaffUser.select(StaffUser, ClinicianAssignment.is_primary.alias("primary"))
                      .join(ClinicianAssignment)
                      .where(ClinicianAssignment.client == client.id)
                      .order_by(ClinicianAssignment.is_primary.desc(), StaffUser.full_name)
                      .objects())
    return {
        "guardians": list(Guardian.select().where(Guardian.client == client.id)
                          .order_by(Guardian.id)),
        "policies": list(InsurancePolicy.select().where(InsurancePolicy.client == client.id)
                         .order_by(InsurancePolicy.rank, InsurancePolicy.id)),
        "clinicians": clinicians,
    }


def possible_duplicates(first: str, last: str, dob: date,
                        exclude: int | None = None) -> list[Client]:
    """Same legal first and last name (ignoring case and accents) and same birth date."""
    candidates = Client.select().where(Client.date_of_birth == dob)
    if exclude is not None:
        candidates = candidates.where(Client.id != exclude)
    return [c for c in candidates
            if fold(c.legal_first_name) == fold(first) and fold(c.legal_last_name) == fold(last)]


def clinicians() -> list[StaffUser]:
    return [user for user in StaffUser.select().where(StaffUser.is_active == True)  # noqa: E712
            .order_by(StaffUser.full_name)
            if user.role_set & {"clinician", "supervisor"}]


# -- changing -----------------------------------------------------------------

def create_client(values: dict[str, Any], today: date, allow_duplicate: bool = False) -> Client:
    clean = clean_client_values(values, today)
    with db.atomic():
        if not allow_duplicate:
            matches = possible_duplicates(clean["legal_first_name"], clean["legal_last_name"],
                                          clean["date_of_birth"])
            if matches:
                raise PossibleDuplicate(matches)
        client = Client(**clean)
        client.search_text = search_text_for(client)
        client.sort_name = sort_name_for(client)
        client.save()
        record("create", object_type="client", object_id=client.id, client_id=client.id)
    return client


def update_client(client_id: int, values: dict[str, Any], today: date,
                  allow_duplicate: bool = False) -> Client:
    clean = clean_client_values(values, today)
    with db.atomic():
        client = get_client(client_id, audit=False)
        if not allow_duplicate:
            matches = possible_duplicates(clean["legal_first_name"], clean["legal_last_name"],
                                          clean["date_of_birth"], exclude=client.id)
            if matches:
                raise PossibleDuplicate(matches)
        for name, value in clean.items():
            setattr(client, name, value)
        client.search_text = search_text_for(client)
        client.sort_name = sort_name_for(client)
        client.updated_at = utcnow()
        client.save()
        record("update", object_type="client", object_id=client.id, client_id=client.id)
    return client


def discharge_client(client_id: int, on: date, reason: str) -> Client:
    reason = reason.strip()
    if not reason:
        raise InvalidClient({"reason": "Say why the client is being discharged."})
    if len(reason) > 200:
        raise InvalidClient({"reason": "Too long (200 characters at most)."})
    with db.atomic():
        client = get_client(client_id, audit=False)
        if client.status == "discharged":
            raise InvalidClient({"status": "This client is already discharged."})
        client.status, client.discharged_on, client.discharge_reason = "discharged", on, reason
        client.updated_at = utcnow()
        client.save()
        record("discharge", object_type="client", object_id=client.id, client_id=client.id)
    return client


def reactivate_client(client_id: int) -> Client:
    with db.atomic():
        client = get_client(client_id, audit=False)
        if client.status == "active":
            raise InvalidClient({"status": "This client is already active."})
        client.status, client.discharged_on, client.discharge_reason = "active", None, ""
        client.updated_at = utcnow()
        client.save()
        record("reactivate", object_type="client", object_id=client.id, client_id=client.id)
    return client
