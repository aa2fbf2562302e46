"""What a client record may hold: the rules every form and service call goes through.

    clean = clean_client_values(form.data, today)   # raises InvalidClient with every problem
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from typing import Any

from webapp.clients.models import CHANNELS, Client

CLIENT_FIELDS = (
    "legal_first_name", "legal_middle_name", "legal_last_name", "preferred_name", "pronouns",
    "date_of_birth", "email", "mobile_phone", "home_phone", "preferred_channel",
    "consent_email", "consent_sms", "consent_voicemail", "address_line1", "address_line2",
    "city", "state", "postal_code", "emergency_name", "emergency_relationship",
    "emergency_phone",
)


class InvalidClient(ValueError):
    """Bad input: `errors` maps a field name to a message a person can act on."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


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
