"""Client records through the staff app: create, validate, duplicates, edit, discharge."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.integration.web.conftest import (
    FULL_CLIENT_FORM,
    add_caseload_client,
    audit_entries,
    client_count,
    client_entries,
    field_error,
    form,
    listed,
    post_form,
    search_list,
    text_of,
    words_of,
)
from webapp.clients import service
from webapp.clients.models import Client

# -- creating -----------------------------------------------------------------

def test_create_a_client_with_every_field(clinician_client: FlaskClient) -> None:
    """Does the form save every field (normalised), and the client then show on the list and
    on their own page?"""
    response = post_form(clinician_client, "/clients/new", form())
    assert response.status_code == 302
    client = Client.get(Client.legal_last_name == "Quintero")
    assert response.headers["Location"] == f"/clients/{client.id}"
    saved = {name: getattr(client, name) for name in service.CLIENT_FIELDS}
    assert saved == {
        "legal_first_name": "Marisol", "legal_middle_name": "Inés",
        "legal_last_name": "Quintero", "preferred_name": "Mari", "pronouns": "she/her",
        "date_of_birth": date(1988, 3, 14), "email": "marisol.quintero@mail.example",
        "mobile_phone": "(518) 555-0142", "home_phone": "(518) 555-0199",
        "preferred_channel": "email", "consent_email": True, "consent_sms": True,
        "consent_voicemail": True, "address_line1": "12 Willow Way", "address_line2": "Apt 3",
        "city": "Troy", "state": "NY", "postal_code": "12180-1234",
        "emergency_name": "Rafael Quintero", "emergency_relationship": "brother",
        "emergency_phone": "(518) 555-0177",
    }
    assert client.status == "active"
    assert client.search_text == "marisol ines quintero mari"

    page = text_of(clinician_client.get(f"/clients/{client.id}"))
    for shown in ("Mari Quintero", "Legal name Marisol Inés Quintero", "born 03/14/1988",
                  "(518) 555-0142", "(518) 555-0199", "marisol.quintero@mail.example",
                  "e-mail, text, voicemail", "12 Willow Way, Apt 3", "Troy, NY 12180-1234",
                  "Rafael Quintero (brother) (518) 555-0177", "she/her", "Client added."):
        assert shown in page, shown

    listing = clinician_client.get("/clients/")
    assert listed(listing) == [client.id]
    assert "Quintero, Mari" in text_of(listing) and "(Marisol)" in text_of(listing)

    [created] = client_entries("create")
    assert created.client_id == created.object_id == client.id
    assert created.actor_role == "clinician"


def test_the_new_client_form_labels_every_field(clinician_client: FlaskClient) -> None:
    """Does every input on the form have a label (keyboard and screen-reader use)?"""
    page = clinician_client.get("/clients/new").get_data(as_text=True)
    inputs = re.findall(r'<(?:input|select)[^>]*\bid="([^"]+)"', page)
    fields = [name for name in inputs if name in FULL_CLIENT_FORM]
    assert set(fields) == set(FULL_CLIENT_FORM)
    for name in fields:
        assert f'<label for="{name}">' in page, name


INVALID = [
    ({"legal_first_name": ""}, "legal_first_name", "Required."),
    ({"legal_last_name": "   "}, "legal_last_name", "Required."),
    ({"date_of_birth": (date.today() + timedelta(days=400)).isoformat()}, "date_of_birth",
     "The date of birth is in the future."),
    ({"date_of_birth": ""}, "date_of_birth", "Enter the date of birth."),
    ({"mobile_phone": "555-0142"}, "mobile_phone", "Enter a 10-digit phone number."),
    ({"home_phone": "call me"}, "home_phone", "Enter a 10-digit phone number."),
    ({"postal_code": "1218"}, "postal_code", "Use a ZIP code like 12345 or 12345-6789."),
    ({"postal_code": "ABCDE"}, "postal_code", "Use a ZIP code like 12345 or 12345-6789."),
    ({"state": "N1"}, "state", "Use the two-letter state code."),
    ({"email": "marisol@"}, "email", "Enter an e-mail address like name@example.com."),
    ({"email": "two words@mail.example"}, "email",
     "Enter an e-mail address like name@example.com."),
    ({"consent_email": None}, "preferred_channel",
     "E-mail needs an address and the client's consent to e-mail."),
    ({"preferred_channel": "sms", "consent_sms": None}, "preferred_channel",
     "Text messages need a mobile number and consent to texts."),
]


@pytest.mark.parametrize(("changes", "field", "message"), INVALID,
                         ids=[f"{case[1]}:{i}" for i, case in enumerate(INVALID)])
def test_bad_input_is_explained_and_saves_nothing(clinician_client: FlaskClient,
                                                  changes: dict[str, Any], field: str,
                                                  message: str) -> None:
    """Does each kind of bad input get a message next to its field, and change nothing?"""
    add_caseload_client("Odile", "Fenwick")
    before = client_count()
    response = post_form(clinician_client, "/clients/new", form(**changes))
    assert response.status_code == 422
    assert field_error(response, field) == message
    assert "Please correct the highlighted fields." in text_of(response)
    assert client_count() == before
    assert len(client_entries("create")) == 1  # only Odile's


def test_every_problem_is_shown_at_once(clinician_client: FlaskClient) -> None:
    """With several mistakes, including one the form itself catches (a date that is not a
    date), is every one of them shown in a single round trip?"""
    response = post_form(clinician_client, "/clients/new",
                         form(legal_first_name="", date_of_birth="14/03/1988",
                              mobile_phone="12", state="N1", postal_code="x"))
    assert response.status_code == 422
    assert field_error(response, "legal_first_name") == "Required."
    assert field_error(response, "date_of_birth") == "Not a valid date value."
    assert field_error(response, "mobile_phone") == "Enter a 10-digit phone number."
    assert field_error(response, "state") == "Use the two-letter state code."
    assert field_error(response, "postal_code") == "Use a ZIP code like 12345 or 12345-6789."
    assert client_count() == 0


def test_a_failed_form_keeps_what_was_typed(clinician_client: FlaskClient) -> None:
    """After an error, does the form still hold the other values, so nothing is retyped?"""
    response = post_form(clinician_client, "/clients/new", form(postal_code="x"))
    page = text_of(response)
    assert 'value="Marisol"' in page and 'value="12 Willow Way"' in page


# -- duplicates ---------------------------------------------------------------

def test_same_name_and_birth_date_warns_until_confirmed(clinician_client: FlaskClient) -> None:
    """Is "jose alvarez" taken for "José Álvarez" born the same day, and nothing saved until
    the user ticks that this is a different person?"""
    existing = add_caseload_client("José", "Álvarez", date(1985, 3, 14))
    before = client_count()
    typed = form(legal_first_name="jose", legal_last_name="ALVAREZ", legal_middle_name="",
                 preferred_name="", date_of_birth="1985-03-14")

    response = post_form(clinician_client, "/clients/new", typed)
    assert response.status_code == 422
    page = text_of(response)
    assert "Is this someone already on file?" in page
    assert f'href="/clients/{existing.id}">José Álvarez</a>, born 03/14/1985 (active)' in page
    assert 'name="confirm_not_duplicate"' in page
    assert client_count() == before

    response = post_form(clinician_client, "/clients/new", {**typed, "confirm_not_duplicate": "y"})
    assert response.status_code == 302
    assert client_count() == before + 1
    assert Client.select().where(Client.legal_first_name == "jose").count() == 1


def test_same_name_with_another_birth_date_is_no_duplicate(
        clinician_client: FlaskClient) -> None:
    """Are two people who share a name but not a birthday saved without a warning?"""
    add_caseload_client("José", "Álvarez", date(1985, 3, 14))
    response = post_form(clinician_client, "/clients/new",
                         form(legal_first_name="José", legal_last_name="Álvarez",
                              date_of_birth="1985-03-15"))
    assert response.status_code == 302


# -- editing ------------------------------------------------------------------

def test_edit_a_client(clinician_client: FlaskClient) -> None:
    """Does the edit form show the record and save the changes (search text included)?"""
    client = add_caseload_client("Ana", "Núñez", mobile_phone="5185550100")
    page = text_of(clinician_client.get(f"/clients/{client.id}/edit"))
    assert 'value="Ana"' in page and 'value="Núñez"' in page and 'value="1990-04-02"' in page

    response = post_form(clinician_client, f"/clients/{client.id}/edit",
                         form(legal_first_name="Ana", legal_middle_name="",
                              legal_last_name="Ortega", preferred_name="",
                              date_of_birth="1990-04-02", mobile_phone="518 555 0111"))
    assert response.status_code == 302
    assert response.headers["Location"] == f"/clients/{client.id}"
    changed = Client.get_by_id(client.id)
    assert (changed.legal_last_name, changed.mobile_phone) == ("Ortega", "(518) 555-0111")
    assert changed.search_text == "ana ortega"
    assert changed.updated_at > client.updated_at
    assert listed(search_list(clinician_client, "orteg")) == [client.id]
    assert listed(search_list(clinician_client, "nunez")) == []
    [updated] = client_entries("update")
    assert updated.client_id == client.id


def test_a_failed_edit_changes_nothing(clinician_client: FlaskClient) -> None:
    """Does an edit with a bad ZIP leave every field as it was?"""
    client = add_caseload_client("Ana", "Núñez")
    before = Client.get_by_id(client.id).__data__
    response = post_form(clinician_client, f"/clients/{client.id}/edit",
                         form(legal_first_name="Anna", postal_code="99"))
    assert response.status_code == 422
    assert Client.get_by_id(client.id).__data__ == before
    assert not client_entries("update")


def test_editing_into_another_clients_name_and_birth_date_warns(
        clinician_client: FlaskClient) -> None:
    """Is renaming a client to match someone else on file caught by the duplicate check?"""
    add_caseload_client("José", "Álvarez", date(1985, 3, 14))
    other = add_caseload_client("Josh", "Alvers", date(1985, 3, 14))
    response = post_form(clinician_client, f"/clients/{other.id}/edit",
                         form(legal_first_name="Jose", legal_last_name="Alvarez",
                              date_of_birth="1985-03-14"))
    assert response.status_code == 422
    assert "Is this someone already on file?" in text_of(response)
    assert Client.get_by_id(other.id).legal_first_name == "Josh"


def test_missing_client_pages_are_404(clinician_client: FlaskClient) -> None:
    """Do the pages of a client who does not exist answer 404, not a crash?"""
    for path in ("/clients/4242", "/clients/4242/edit", "/clients/4242/guardians/new",
                 "/clients/4242/insurance/new", "/clients/4242/insurance/1"):
        assert clinician_client.get(path).status_code == 404, path


def test_changes_to_a_missing_client_are_404(clinician_client: FlaskClient) -> None:
    """Do discharge, reactivation and assignment for a client who does not exist answer 404
    and record nothing?"""
    for path, data in (("/clients/4242/discharge", {"discharged_on": "2026-11-20",
                                                    "reason": "x"}),
                       ("/clients/4242/reactivate", {}),
                       ("/clients/4242/clinicians", {"clinician_id": "1"})):
        assert post_form(clinician_client, path, data).status_code == 404, path
    assert not [e for e in audit_entries() if e.client_id is not None]


# -- discharge and reactivation -----------------------------------------------

def test_discharge_and_reactivate(clinician_client: FlaskClient) -> None:
    """Can a clinician discharge a client with a reason and bring them back, with the status
    filter following along?"""
    client = add_caseload_client("Ana", "Núñez")
    other = add_caseload_client("Bea", "Ortiz")
    response = post_form(clinician_client, f"/clients/{client.id}/discharge",
                         {"discharged_on": "2026-11-20", "reason": "Moved out of state"})
    assert response.status_code == 302
    discharged = Client.get_by_id(client.id)
    assert (discharged.status, discharged.discharged_on, discharged.discharge_reason) == \
        ("discharged", date(2026, 11, 20), "Moved out of state")
    page = words_of(clinician_client.get(f"/clients/{client.id}"))
    assert "Discharged on 11/20/2026: Moved out of state" in page
    assert "Reactivate client" in page and "Discharge client" not in page

    assert listed(clinician_client.get("/clients/")) == [other.id]
    assert listed(clinician_client.get("/clients/?status=discharged")) == [client.id]
    assert listed(clinician_client.get("/clients/?status=all")) == [client.id, other.id]

    response = post_form(clinician_client, f"/clients/{client.id}/reactivate", {})
    assert response.status_code == 302
    back = Client.get_by_id(client.id)
    assert (back.status, back.discharged_on, back.discharge_reason) == ("active", None, "")
    assert listed(clinician_client.get("/clients/")) == [client.id, other.id]
    assert listed(clinician_client.get("/clients/?status=discharged")) == []
    assert [e.client_id for e in client_entries("discharge")] == [client.id]
    assert [e.client_id for e in client_entries("reactivate")] == [client.id]

    post_form(clinician_client, f"/clients/{client.id}/reactivate", {})
    page = text_of(clinician_client.get(f"/clients/{client.id}"))
    assert "This client is already active." in page
    assert len(client_entries("reactivate")) == 1


def test_discharge_needs_a_reason(clinician_client: FlaskClient) -> None:
    """Is a discharge without a reason refused with a message, leaving the client active?"""
    client = add_caseload_client("Ana", "Núñez")
    post_form(clinician_client, f"/clients/{client.id}/discharge",
              {"discharged_on": "2026-11-20", "reason": ""})
    page = text_of(clinician_client.get(f"/clients/{client.id}"))
    assert "Give a discharge date and a reason." in page
    assert Client.get_by_id(client.id).status == "active"
    assert not client_entries("discharge")


def test_discharging_twice_is_refused(clinician_client: FlaskClient) -> None:
    """Does discharging an already discharged client say so and keep the first discharge?"""
    client = add_caseload_client("Ana", "Núñez")
    post_form(clinician_client, f"/clients/{client.id}/discharge",
              {"discharged_on": "2026-11-20", "reason": "Goals met"})
    post_form(clinician_client, f"/clients/{client.id}/discharge",
              {"discharged_on": "2026-11-25", "reason": "Again"})
    page = text_of(clinician_client.get(f"/clients/{client.id}"))
    assert "This client is already discharged." in page
    assert Client.get_by_id(client.id).discharge_reason == "Goals met"
