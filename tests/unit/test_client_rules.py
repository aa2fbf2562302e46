"""Client validation rules, without a database."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from webapp.clients.service import (
    InvalidClient,
    age_on,
    clean_client_values,
    fold,
    normalize_phone,
    parse_date_query,
)

TODAY = date(2026, 11, 26)


def valid(**changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"legal_first_name": " Ana ", "legal_last_name": "Núñez",
                              "date_of_birth": date(1990, 4, 2), "preferred_channel": "portal"}
    values.update(changes)
    return values


def test_clean_values_are_trimmed_and_normalised() -> None:
    """Are names trimmed, phones formatted, states upper-cased and e-mail lower-cased?"""
    clean = clean_client_values(valid(mobile_phone="1-518-555-0142", state="ny",
                                      email="Ana@Example.ORG"), TODAY)
    assert clean["legal_first_name"] == "Ana"
    assert clean["mobile_phone"] == "(518) 555-0142"
    assert clean["state"] == "NY"
    assert clean["email"] == "ana@example.org"


@pytest.mark.parametrize("changes, field", [
    ({"legal_first_name": ""}, "legal_first_name"),
    ({"legal_last_name": "  "}, "legal_last_name"),
    ({"date_of_birth": None}, "date_of_birth"),
    ({"date_of_birth": date(2027, 1, 1)}, "date_of_birth"),
    ({"date_of_birth": date(1850, 1, 1)}, "date_of_birth"),
    ({"mobile_phone": "555-01"}, "mobile_phone"),
    ({"postal_code": "1234"}, "postal_code"),
    ({"state": "New York"}, "state"),
    ({"email": "not-an-address"}, "email"),
    ({"preferred_channel": "email", "email": "a@b.org"}, "preferred_channel"),
    ({"preferred_channel": "sms", "mobile_phone": "5185550142"}, "preferred_channel"),
    ({"preferred_channel": "pigeon"}, "preferred_channel"),
    ({"consent_sms": True}, "consent_sms"),
    ({"legal_first_name": "Ana\x00"}, "legal_first_name"),
    ({"legal_last_name": "x" * 101}, "legal_last_name"),
])
def test_bad_values_name_the_field(changes: dict[str, Any], field: str) -> None:
    """Does each kind of bad input come back as a message on the right field?"""
    with pytest.raises(InvalidClient) as caught:
        clean_client_values(valid(**changes), TODAY)
    assert field in caught.value.errors


def test_fold_ignores_case_and_accents() -> None:
    """Do 'José ÁLVAREZ' and 'jose alvarez' fold to the same text?"""
    assert fold("José ÁLVAREZ") == fold("jose alvarez") == "jose alvarez"


def test_age_on_birthdays() -> None:
    """Is age counted in whole years, turning over on the birthday itself?"""
    assert age_on(date(2008, 11, 26), TODAY) == 18
    assert age_on(date(2008, 11, 27), TODAY) == 17
    assert age_on(date(2008, 2, 29), date(2026, 2, 28)) == 17


def test_date_queries() -> None:
    """Are both US and ISO date searches understood, and names not mistaken for dates?"""
    assert parse_date_query("04/02/1990") == date(1990, 4, 2)
    assert parse_date_query("1990-04-02") == date(1990, 4, 2)
    assert parse_date_query("ana") is None


def test_phone_accepts_common_formats() -> None:
    """Do the usual ways of writing a US number all normalise the same way?"""
    for raw in ("518.555.0142", "(518) 555 0142", "+1 518 555 0142", "5185550142"):
        assert normalize_phone(raw) == "(518) 555-0142"
