"""Client records through the staff app: forms, rules, roles, search, audit and query counts."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from playhouse.test_utils import count_queries

from appliance import storage
from tests.conftest import make_staff
from tests.integration.web.conftest import (
    FULL_CLIENT_FORM,
    add_client,
    audit_entries,
    bulk_clients,
    client_count,
    links_on,
    post_form,
    search_list,
    text_of,
    words_of,
)
from webapp.clients import related_service, service
from webapp.clients.models import Client, ClinicianAssignment, Guardian, InsurancePolicy
from webapp.clients.service import PAGE_SIZE, InvalidClient, fold, search_clients
from webapp.core.models import StaffUser

_LISTED = re.compile(r'<td><a href="/clients/(\d+)">')


def form(**changes: Any) -> dict[str, Any]:
    """The full client form with `changes`; a value of None leaves the field out."""
    values = {**FULL_CLIENT_FORM, **changes}
    return {name: value for name, value in values.items() if value is not None}


def listed(response: Any) -> list[int]:
    """Client ids in the order the list page shows them."""
    assert response.status_code == 200
    return [int(found) for found in _LISTED.findall(response.get_data(as_text=True))]


def field_error(response: Any, field: str) -> str:
    match = re.search(rf'id="{field}-error">([^<]*)</p>', text_of(response))
    assert match, f"no error shown for {field}"
    return match.group(1)


def client_entries(action: str, object_type: str = "client") -> list[Any]:
    return audit_entries(action=action, object_type=object_type)


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
    add_client("Odile", "Fenwick")
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
    existing = add_client("José", "Álvarez", date(1985, 3, 14))
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
    add_client("José", "Álvarez", date(1985, 3, 14))
    response = post_form(clinician_client, "/clients/new",
                         form(legal_first_name="José", legal_last_name="Álvarez",
                              date_of_birth="1985-03-15"))
    assert response.status_code == 302


# -- editing ------------------------------------------------------------------

def test_edit_a_client(clinician_client: FlaskClient) -> None:
    """Does the edit form show the record and save the changes (search text included)?"""
    client = add_client("Ana", "Núñez", mobile_phone="5185550100")
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
    client = add_client("Ana", "Núñez")
    before = Client.get_by_id(client.id).__data__
    response = post_form(clinician_client, f"/clients/{client.id}/edit",
                         form(legal_first_name="Anna", postal_code="99"))
    assert response.status_code == 422
    assert Client.get_by_id(client.id).__data__ == before
    assert not client_entries("update")


def test_editing_into_another_clients_name_and_birth_date_warns(
        clinician_client: FlaskClient) -> None:
    """Is renaming a client to match someone else on file caught by the duplicate check?"""
    add_client("José", "Álvarez", date(1985, 3, 14))
    other = add_client("Josh", "Alvers", date(1985, 3, 14))
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
    client = add_client("Ana", "Núñez")
    other = add_client("Bea", "Ortiz")
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
    client = add_client("Ana", "Núñez")
    post_form(clinician_client, f"/clients/{client.id}/discharge",
              {"discharged_on": "2026-11-20", "reason": ""})
    page = text_of(clinician_client.get(f"/clients/{client.id}"))
    assert "Give a discharge date and a reason." in page
    assert Client.get_by_id(client.id).status == "active"
    assert not client_entries("discharge")


def test_discharging_twice_is_refused(clinician_client: FlaskClient) -> None:
    """Does discharging an already discharged client say so and keep the first discharge?"""
    client = add_client("Ana", "Núñez")
    post_form(clinician_client, f"/clients/{client.id}/discharge",
              {"discharged_on": "2026-11-20", "reason": "Goals met"})
    post_form(clinician_client, f"/clients/{client.id}/discharge",
              {"discharged_on": "2026-11-25", "reason": "Again"})
    page = text_of(clinician_client.get(f"/clients/{client.id}"))
    assert "This client is already discharged." in page
    assert Client.get_by_id(client.id).discharge_reason == "Goals met"


# -- guardians ----------------------------------------------------------------

def test_add_and_remove_a_guardian(clinician_client: FlaskClient) -> None:
    """Can a guardian be added to a minor's record and removed again, each change audited?"""
    minor = add_client("Theo", "Park", date(2015, 6, 1))
    page = text_of(clinician_client.get(f"/clients/{minor.id}"))
    assert "This client is a minor and has no guardian on file." in page

    response = post_form(clinician_client, f"/clients/{minor.id}/guardians/new",
                         {"full_name": "Grace Park", "relationship": "parent",
                          "phone": "518.555.0123", "email": "", "has_legal_authority": "y"})
    assert response.status_code == 302
    guardian = Guardian.get(Guardian.client == minor.id)
    assert (guardian.full_name, guardian.phone, guardian.has_legal_authority) == \
        ("Grace Park", "(518) 555-0123", True)
    page = text_of(clinician_client.get(f"/clients/{minor.id}"))
    assert "Grace Park" in page and "can consent" in page

    response = post_form(clinician_client,
                         f"/clients/{minor.id}/guardians/{guardian.id}/remove", {})
    assert response.status_code == 302
    assert not Guardian.select().exists()
    [added] = client_entries("create", "guardian")
    [removed] = client_entries("delete", "guardian")
    assert added.client_id == removed.client_id == minor.id
    assert added.object_id == removed.object_id == guardian.id


@pytest.mark.parametrize(("values", "field", "message"), [
    ({"phone": "", "email": ""}, "phone",
     "Give a phone number or an e-mail address to reach them."),
    ({"phone": "12", "email": ""}, "phone", "Enter a 10-digit phone number."),
    ({"phone": "", "email": "grace@"}, "email", "Enter an e-mail address like name@example.com."),
    ({"full_name": "", "email": "grace@mail.example"}, "full_name", "This field is required."),
])
def test_a_guardian_needs_a_way_to_be_reached(clinician_client: FlaskClient,
                                              values: dict[str, str], field: str,
                                              message: str) -> None:
    """Is a guardian with no phone or e-mail (or a bad one) refused with a message?"""
    minor = add_client("Theo", "Park", date(2015, 6, 1))
    response = post_form(clinician_client, f"/clients/{minor.id}/guardians/new",
                         {"full_name": "Grace Park", "relationship": "parent", **values})
    assert response.status_code == 422
    assert field_error(response, field) == message
    assert not Guardian.select().exists()
    assert not client_entries("create", "guardian")


def test_a_guardian_cannot_be_removed_through_another_clients_page(
        clinician_client: FlaskClient) -> None:
    """Does removing guardian G under client B's address leave G on client A's record?"""
    theo = add_client("Theo", "Park", date(2015, 6, 1))
    mia = add_client("Mia", "Lee", date(2014, 1, 1))
    guardian = related_service.add_guardian(theo.id, {"full_name": "Grace Park",
                                                      "relationship": "parent",
                                                      "phone": "5185550123"})
    post_form(clinician_client, f"/clients/{mia.id}/guardians/{guardian.id}/remove", {})
    assert Guardian.get_or_none(Guardian.id == guardian.id) is not None
    assert "That guardian is not on this client" in text_of(
        clinician_client.get(f"/clients/{mia.id}"))


# -- insurance ----------------------------------------------------------------

POLICY = {"rank": "1", "payer_name": "Aetna", "payer_id": "60054", "member_id": "W123456789",
          "group_number": "G100", "subscriber_relationship": "self",
          "effective_on": "2026-01-01", "ends_on": ""}
SPOUSE = {"subscriber_relationship": "spouse", "subscriber_first_name": "Luis",
          "subscriber_last_name": "Ortega", "subscriber_date_of_birth": "1984-07-09"}


def test_add_edit_and_remove_insurance(clinician_client: FlaskClient) -> None:
    """Can a primary and a secondary policy be added, one edited and one removed, each audited?"""
    client = add_client("Ana", "Ortega")
    path = f"/clients/{client.id}/insurance/new"
    assert post_form(clinician_client, path, POLICY).status_code == 302
    assert post_form(clinician_client, path, {**POLICY, "rank": "2", "payer_name": "Cigna",
                                              "member_id": "C-77", **SPOUSE}).status_code == 302
    primary, secondary = InsurancePolicy.select().order_by(InsurancePolicy.rank)
    assert (primary.payer_name, primary.effective_on, primary.subscriber_first_name) == \
        ("Aetna", date(2026, 1, 1), "")
    assert (secondary.subscriber_first_name, secondary.subscriber_date_of_birth) == \
        ("Luis", date(1984, 7, 9))
    page = text_of(clinician_client.get(f"/clients/{client.id}"))
    assert "Luis Ortega (spouse)" in page and "W123456789" in page

    edit_page = text_of(clinician_client.get(f"/clients/{client.id}/insurance/{primary.id}"))
    assert 'value="W123456789"' in edit_page
    assert '<option selected value="1">Primary</option>' in edit_page
    response = post_form(clinician_client, f"/clients/{client.id}/insurance/{primary.id}",
                         {**POLICY, "member_id": "W999", "ends_on": "2026-12-31"})
    assert response.status_code == 302  # keeping its own rank is no clash
    edited = InsurancePolicy.get_by_id(primary.id)
    assert (edited.member_id, edited.ends_on) == ("W999", date(2026, 12, 31))

    response = post_form(clinician_client,
                         f"/clients/{client.id}/insurance/{secondary.id}/remove", {})
    assert response.status_code == 302
    assert [p.id for p in InsurancePolicy.select()] == [primary.id]
    actions = [(e.action, e.object_id, e.client_id)
               for e in audit_entries(object_type="insurance_policy")]
    assert actions == [("create", primary.id, client.id), ("create", secondary.id, client.id),
                       ("update", primary.id, client.id), ("delete", secondary.id, client.id)]


def test_subscriber_details_are_required_when_the_client_is_not_the_subscriber(
        clinician_client: FlaskClient) -> None:
    """Is a spouse's policy without the subscriber's name and birth date refused?"""
    client = add_client("Ana", "Ortega")
    response = post_form(clinician_client, f"/clients/{client.id}/insurance/new",
                         {**POLICY, "subscriber_relationship": "spouse"})
    assert response.status_code == 422
    for field in ("subscriber_first_name", "subscriber_last_name", "subscriber_date_of_birth"):
        assert field_error(response, field) == "Required when the client is not the subscriber."
    assert not InsurancePolicy.select().exists()


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"member_id": "W 12/3"}, "member_id", "Letters, digits and dashes only, as on the card."),
    ({"payer_name": ""}, "payer_name", "This field is required."),
    ({"effective_on": "2026-06-01", "ends_on": "2026-01-01"}, "ends_on",
     "The end date is before the effective date."),
])
def test_bad_policy_input_is_refused(clinician_client: FlaskClient, changes: dict[str, str],
                                     field: str, message: str) -> None:
    """Are a malformed member id, a missing payer and an end before the start refused?"""
    client = add_client("Ana", "Ortega")
    response = post_form(clinician_client, f"/clients/{client.id}/insurance/new",
                         {**POLICY, **changes})
    assert response.status_code == 422
    assert field_error(response, field) == message
    assert not InsurancePolicy.select().exists()


def test_two_policies_at_the_same_rank_are_refused(clinician_client: FlaskClient) -> None:
    """Can a client end up with two primary policies, by adding or by editing?"""
    client = add_client("Ana", "Ortega")
    path = f"/clients/{client.id}/insurance/new"
    post_form(clinician_client, path, POLICY)
    response = post_form(clinician_client, path, {**POLICY, "payer_name": "Cigna"})
    assert response.status_code == 422
    assert field_error(response, "rank") == "This client already has a policy at that rank."
    assert InsurancePolicy.select().count() == 1

    post_form(clinician_client, path, {**POLICY, "rank": "2", "payer_name": "Cigna"})
    secondary = InsurancePolicy.get(InsurancePolicy.rank == 2)
    response = post_form(clinician_client, f"/clients/{client.id}/insurance/{secondary.id}",
                         {**POLICY, "payer_name": "Cigna"})
    assert response.status_code == 422
    assert InsurancePolicy.get_by_id(secondary.id).rank == 2


def test_a_policy_is_reached_only_through_its_own_client(clinician_client: FlaskClient) -> None:
    """Is client A's policy out of reach under client B's address (view, edit, remove)?"""
    ana = add_client("Ana", "Ortega")
    bea = add_client("Bea", "Ortiz")
    policy = related_service.save_policy(ana.id, {**POLICY, "effective_on": None})
    assert clinician_client.get(f"/clients/{bea.id}/insurance/{policy.id}").status_code == 404
    response = post_form(clinician_client, f"/clients/{bea.id}/insurance/{policy.id}",
                         {**POLICY, "member_id": "STOLEN"})
    assert response.status_code == 404
    post_form(clinician_client, f"/clients/{bea.id}/insurance/{policy.id}/remove", {})
    assert InsurancePolicy.get_by_id(policy.id).member_id == "W123456789"


# -- clinicians ---------------------------------------------------------------

def test_assign_and_unassign_clinicians(clinician_client: FlaskClient) -> None:
    """Can clinicians and supervisors be assigned (one primary at a time) and unassigned,
    while a biller or front desk cannot be put on a caseload?"""
    client = add_client("Ana", "Ortega")
    supervisor = make_staff("sokafor", ["supervisor"], full_name="Sam Okafor")
    biller = make_staff("bpatel", ["biller"], full_name="Bina Patel")
    make_staff("frosa", ["front_desk"], full_name="Fran Rosa")
    clinician = StaffUser.get(StaffUser.username == "jchen").id  # Julia, who is signed in

    page = text_of(clinician_client.get(f"/clients/{client.id}"))
    options = re.findall(r'<option value="(\d+)">([^<]+)</option>', page)
    assert {name for _, name in options} == {"Julia Chen", "Sam Okafor"}

    path = f"/clients/{client.id}/clinicians"
    assert post_form(clinician_client, path, {"clinician_id": clinician,
                                              "is_primary": "y"}).status_code == 302
    assert post_form(clinician_client, path, {"clinician_id": supervisor.id}).status_code == 302
    assignments = {a.clinician_id: a.is_primary for a in ClinicianAssignment.select()}
    assert assignments == {clinician: True, supervisor.id: False}
    page = text_of(clinician_client.get(f"/clients/{client.id}"))
    assert re.search(r"Julia Chen <span class=\"tag\">primary</span>", page)

    post_form(clinician_client, path, {"clinician_id": supervisor.id, "is_primary": "y"})
    assignments = {a.clinician_id: a.is_primary for a in ClinicianAssignment.select()}
    assert assignments == {clinician: False, supervisor.id: True}

    post_form(clinician_client, path, {"clinician_id": biller.id})
    assert "Choose a clinician." in text_of(clinician_client.get(f"/clients/{client.id}"))
    assert ClinicianAssignment.select().count() == 2
    with pytest.raises(InvalidClient):
        related_service.assign_clinician(client.id, biller.id, primary=False)

    response = post_form(clinician_client,
                         f"/clients/{client.id}/clinicians/{supervisor.id}/remove", {})
    assert response.status_code == 302
    assert [a.clinician_id for a in ClinicianAssignment.select()] == [clinician]
    actions = [(e.action, e.client_id) for e in audit_entries(object_type="clinician_assignment")]
    assert actions == [("assign", client.id)] * 3 + [("unassign", client.id)]


# -- roles --------------------------------------------------------------------

def test_a_biller_sees_demographics_but_cannot_change_them(biller_client: FlaskClient) -> None:
    """Can a biller view clients and edit insurance, but not add, edit, discharge, assign or
    change guardians?"""
    client = add_client("Ana", "Ortega", postal_code="12180")
    make_staff("jchen", ["clinician"])
    before = Client.get_by_id(client.id).__data__
    page = text_of(biller_client.get(f"/clients/{client.id}"))
    assert "Ana Ortega" in page
    assert "Edit details" not in page and "Discharge client" not in page
    assert "Add guardian" not in page and "Add insurance" in page

    for path in ("/clients/new", f"/clients/{client.id}/edit",
                 f"/clients/{client.id}/guardians/new"):
        assert biller_client.get(path).status_code == 403, path
    refused = [
        ("/clients/new", form()),
        (f"/clients/{client.id}/edit", form(legal_first_name="Changed")),
        (f"/clients/{client.id}/discharge", {"discharged_on": "2026-11-20", "reason": "x"}),
        (f"/clients/{client.id}/guardians/new", {"full_name": "G", "relationship": "parent",
                                                  "phone": "5185550123"}),
        (f"/clients/{client.id}/clinicians", {"clinician_id": "1"}),
    ]
    for path, data in refused:
        assert post_form(biller_client, path, data).status_code == 403, path
    assert Client.get_by_id(client.id).__data__ == before
    assert client_count() == 1
    assert not Guardian.select().exists() and not ClinicianAssignment.select().exists()
    denied = audit_entries(action="permission_denied")
    assert len(denied) == 3 + len(refused)
    assert {e.outcome for e in denied} == {"denied"} and {e.actor_role for e in denied} == {
        "biller"}

    path = f"/clients/{client.id}/insurance/new"
    assert post_form(biller_client, path, POLICY).status_code == 302
    policy = InsurancePolicy.get()
    response = post_form(biller_client, f"/clients/{client.id}/insurance/{policy.id}",
                         {**POLICY, "group_number": "G200"})
    assert response.status_code == 302
    assert InsurancePolicy.get_by_id(policy.id).group_number == "G200"


def test_front_desk_edits_demographics_but_does_not_discharge(
        front_desk_client: FlaskClient) -> None:
    """Can the front desk add and edit clients and insurance, but not discharge?"""
    assert post_form(front_desk_client, "/clients/new", form()).status_code == 302
    client = Client.get()
    response = post_form(front_desk_client, f"/clients/{client.id}/edit",
                         form(city="Albany", postal_code="12207"))
    assert response.status_code == 302
    assert Client.get_by_id(client.id).city == "Albany"
    page = text_of(front_desk_client.get(f"/clients/{client.id}"))
    assert "Edit details" in page and "Discharge client" not in page
    response = post_form(front_desk_client, f"/clients/{client.id}/discharge",
                         {"discharged_on": "2026-11-20", "reason": "x"})
    assert response.status_code == 403
    assert Client.get_by_id(client.id).status == "active"
    assert post_form(front_desk_client, f"/clients/{client.id}/insurance/new",
                     POLICY).status_code == 302


# -- search and the list ------------------------------------------------------

def add_searchable_clients() -> dict[str, int]:
    people = {
        "jose": add_client("José", "Álvarez", date(1985, 3, 14)),
        "josefina": add_client("Josefina", "Smith", date(1990, 1, 1)),
        "mark": add_client("Mark", "Alvarado", date(1985, 3, 14), legal_middle_name="Jo"),
        "kim": add_client("Kim", "Lee", date(2001, 9, 9), preferred_name="K_J"),
        "zoe": add_client("Zoë", "Zimmer", date(1985, 3, 15)),
    }
    return {key: client.id for key, client in people.items()}


SEARCHES = [
    ("lvar", {"mark", "jose"}),              # the middle of a last name
    ("ÁLV", {"mark", "jose"}),               # accents and case do not matter
    ("alv", {"mark", "jose"}),
    ("zoe", {"zoe"}),                        # ë typed as e
    ("jose alv", {"jose"}),                  # every token must match
    ("  alv   jose ", {"jose"}),             # in any order, spaces aside
    ("jo", {"mark", "jose", "josefina"}),    # middle names count
    ("k_j", {"kim"}),                        # preferred names count
    ("03/14/1985", {"mark", "jose"}),        # birth date, US style
    ("1985-03-14", {"mark", "jose"}),        # birth date, ISO
    ("%", set()),                            # LIKE wildcards are literal
    ("_", {"kim"}),
    ("a%", set()),
    ("nobody", set()),
    ("", {"mark", "jose", "kim", "josefina", "zoe"}),  # no query: every active client
]


def test_search_by_name_fragment_or_birth_date(clinician_client: FlaskClient) -> None:
    """Does the search find clients by any fragment of any name (accent- and case-blind, all
    tokens), or by birth date in either format, treating % and _ literally?"""
    ids = add_searchable_clients()
    for query, expected in SEARCHES:
        response = search_list(clinician_client, query)
        assert sorted(listed(response)) == sorted(ids[key] for key in expected), query
        if not expected:
            assert "No clients match" in text_of(response), query


def test_a_search_is_audited_without_the_query(clinician_client: FlaskClient) -> None:
    """Is each search recorded, and does the entry leave out what was typed?"""
    add_searchable_clients()
    search_list(clinician_client, "alvarez")
    [entry] = audit_entries(action="search")
    assert entry.object_type == "client_list" and entry.actor_role == "clinician"
    assert "alvarez" not in " ".join(str(v) for v in entry.__data__.values()).lower()


def test_search_words_stay_out_of_urls(clinician_client: FlaskClient) -> None:
    """Do the search words (PHI) stay in the session, out of every URL, across pages,
    until a plain visit to the list starts afresh?"""
    bulk_clients(60, last="Quintero")
    bulk_clients(5, last="Other")
    first = search_list(clinician_client, "quinter")
    assert len(listed(first)) == PAGE_SIZE
    assert not [link for link in links_on(first) if "quinter" in link.lower()]
    assert 'value="quinter"' in text_of(first)  # the box still shows what was typed
    second = clinician_client.get("/clients/?page=2")
    assert len(listed(second)) == 10
    assert not [link for link in links_on(second) if "quinter" in link.lower()]
    fresh = clinician_client.get("/clients/")
    assert len(listed(fresh)) == PAGE_SIZE and 'value="quinter"' not in text_of(fresh)
    assert len(listed(clinician_client.get("/clients/?page=2"))) == 15


def test_the_list_sorts_accented_names_with_their_letter(clinician_client: FlaskClient) -> None:
    """Does 'Álvarez' sort among the A's and 'Zoë' by 'zoe', rather than after Z?"""
    names = [("Zed", "Zimmer"), ("José", "Álvarez"), ("Ann", "Adams"), ("Zoë", "Baker"),
             ("Zoe", "Baker"), ("Bo", "Östberg"), ("Al", "Oakes")]
    ids = {last + first: add_client(first, last, date(1980, 1, 1 + i)).id
           for i, (first, last) in enumerate(names)}
    shown = listed(clinician_client.get("/clients/"))
    assert shown.index(ids["ÁlvarezJosé"]) == 1
    assert shown.index(ids["AdamsAnn"]) == 0
    assert shown.index(ids["ZimmerZed"]) == len(shown) - 1
    assert shown.index(ids["OakesAl"]) < shown.index(ids["ÖstbergBo"])


def test_the_list_pages_through_many_clients(clinician_client: FlaskClient) -> None:
    """With 120 clients, are there pages of 50, 50 and 20 with working next/previous links?"""
    bulk_clients(120)
    seen: list[int] = []
    for page, size, has_next in ((1, 50, True), (2, 50, True), (3, 20, False)):
        response = clinician_client.get(f"/clients/?page={page}")
        ids = listed(response)
        assert len(ids) == size
        seen += ids
        links = links_on(response)
        assert any(f"page={page + 1}" in link for link in links) == has_next
        assert any(f"page={page - 1}" in link for link in links) == (page > 1)
    assert len(set(seen)) == 120
    names = [Client.get_by_id(i).legal_first_name for i in seen]
    assert names == sorted(names)
    assert listed(clinician_client.get("/clients/?page=4")) == []


def test_a_nonsense_page_number_is_not_an_error(clinician_client: FlaskClient) -> None:
    """Does a page number that is not a page (zero, letters, odd digits) just show a page?"""
    client = add_client("Ana", "Ortega")
    for page in ("0", "-1", "abc", "²", "\u0661", "99999999999999999999", ""):
        response = clinician_client.get("/clients/", query_string={"page": page})
        assert response.status_code == 200, page
        assert listed(response) == ([client.id] if page in ("0", "-1", "abc", "²", "\u0661", "")
                                    else []), page


def test_an_unknown_status_filter_shows_everyone(clinician_client: FlaskClient) -> None:
    """Is a made-up status treated as 'all' rather than an error?"""
    client = add_client("Ana", "Ortega")
    assert listed(clinician_client.get("/clients/?status=<script>")) == [client.id]


# -- audit and PHI in URLs ----------------------------------------------------

def test_viewing_a_client_writes_a_view_entry(clinician_client: FlaskClient) -> None:
    """Does opening a client's page record who viewed which client?"""
    client = add_client("Ana", "Ortega")
    clinician_client.get(f"/clients/{client.id}")
    [entry] = client_entries("view")
    assert (entry.object_id, entry.client_id, entry.actor_kind, entry.actor_role) == \
        (client.id, client.id, "staff", "clinician")
    assert entry.actor_id is not None and entry.outcome == "success"


def test_no_client_name_in_any_link(clinician_client: FlaskClient) -> None:
    """Do the list, client page and forms keep every name out of the URLs they link to?"""
    response = post_form(clinician_client, "/clients/new", form())
    client = Client.get()
    minor = add_client("Quincy", "Marlowe", date(2015, 1, 1))
    related_service.add_guardian(minor.id, {"full_name": "Rosalind Marlowe",
                                            "relationship": "parent", "phone": "5185550123"})
    related_service.save_policy(client.id, {**POLICY, "effective_on": None})
    paths = [response.headers["Location"], "/clients/", "/clients/?status=all",
             f"/clients/{client.id}/edit", f"/clients/{client.id}/guardians/new",
             f"/clients/{client.id}/insurance/new", f"/clients/{minor.id}"]
    names = ("marisol", "quintero", "rafael", "quincy", "marlowe", "rosalind", "ines", "mari/")
    seen = 0
    for path in paths:
        page = clinician_client.get(path)
        assert page.status_code == 200, path
        for link in links_on(page):
            seen += 1
            assert not any(name in fold(link) for name in names), (path, link)
        for link in links_on(page, "href"):
            if link.startswith("/"):  # and every page it links to exists
                target = clinician_client.get(link.split("#")[0])
                assert target.status_code in (200, 302), link
                target.close()
    assert seen > 20


def test_every_change_is_audited_with_its_client(clinician_client: FlaskClient) -> None:
    """Does each kind of change leave an entry with action, object type and client id?"""
    supervisor = make_staff("sokafor", ["supervisor"], full_name="Sam Okafor")
    post_form(clinician_client, "/clients/new", form())
    client_id = Client.get().id
    steps = [
        (f"/clients/{client_id}/edit", form(city="Albany", postal_code="12207")),
        (f"/clients/{client_id}/guardians/new", {"full_name": "G P", "relationship": "parent",
                                                  "email": "gp@mail.example"}),
        (f"/clients/{client_id}/insurance/new", POLICY),
        (f"/clients/{client_id}/clinicians", {"clinician_id": supervisor.id}),
        (f"/clients/{client_id}/discharge", {"discharged_on": "2026-11-20", "reason": "Done"}),
        (f"/clients/{client_id}/reactivate", {}),
    ]
    for path, data in steps:
        assert post_form(clinician_client, path, data).status_code == 302, path
    changes = [(e.action, e.object_type, e.client_id) for e in audit_entries()
               if e.action not in ("view", "login", "search") and e.object_type != "staff_user"]
    assert changes == [
        ("create", "client", client_id), ("update", "client", client_id),
        ("create", "guardian", client_id), ("create", "insurance_policy", client_id),
        ("assign", "clinician_assignment", client_id), ("discharge", "client", client_id),
        ("reactivate", "client", client_id),
    ]


# -- query counts -------------------------------------------------------------

def _queries_for(browser: FlaskClient, path: str) -> int:
    browser.get(path)  # warm up: the session's CSRF token and last-seen time are written
    with count_queries() as counter:
        response = browser.get(path)
    assert response.status_code == 200
    return counter.count


def test_the_client_page_runs_a_fixed_number_of_queries(clinician_client: FlaskClient) -> None:
    """Does the client page cost the same number of queries with 1 or many guardians,
    policies and clinicians (no N+1)?"""
    small = add_client("Ana", "Ortega", date(2015, 1, 1))
    large = add_client("Bea", "Ortiz", date(2015, 1, 1))
    staff = [make_staff(f"clin{i}", ["clinician"], full_name=f"Clinician {i}") for i in range(4)]
    with storage.db.atomic():
        for client, guardians, ranks, clinicians in ((small, 1, 1, 1), (large, 6, 3, 4)):
            Guardian.insert_many([{"client": client.id, "full_name": f"Guardian {i}",
                                   "relationship": "parent", "phone": "(518) 555-0100"}
                                  for i in range(guardians)]).execute()
            InsurancePolicy.insert_many([{"client": client.id, "rank": rank, "payer_name": "P",
                                          "member_id": f"M{rank}",
                                          "subscriber_relationship": "self"}
                                         for rank in range(1, ranks + 1)]).execute()
            ClinicianAssignment.insert_many([{"client": client.id, "clinician": s.id,
                                              "is_primary": i == 0}
                                             for i, s in enumerate(staff[:clinicians])]).execute()
    few = _queries_for(clinician_client, f"/clients/{small.id}")
    many = _queries_for(clinician_client, f"/clients/{large.id}")
    assert few == many
    assert many <= 10  # 8 today: session, user, client, audit, staff, three related lists
    page = text_of(clinician_client.get(f"/clients/{large.id}"))
    assert all(f"Guardian {i}" in page for i in range(6))
    assert all(f"Clinician {i}" in page for i in range(4))


def test_the_list_page_runs_a_fixed_number_of_queries(clinician_client: FlaskClient) -> None:
    """Does the list cost the same number of queries for 3 clients as for a full page?"""
    bulk_clients(3, last="Aardvark")
    few = _queries_for(clinician_client, "/clients/")
    bulk_clients(100)
    many = _queries_for(clinician_client, "/clients/")
    assert few == many
    assert many <= 5
    assert len(listed(clinician_client.get("/clients/"))) == PAGE_SIZE


# -- the search service at practice scale -------------------------------------

FIRST = ["Ana", "José", "Mei", "Omar", "Priya", "Liam", "Zoë", "Kenji", "Fatima", "Noah"]
LAST = ["García", "Nguyen", "Okonkwo", "Smith", "Álvarez", "Kowalczyk", "Patel", "O'Brien",
        "Hernández", "Rossi"]


def _practice_name(index: int) -> tuple[str, str]:
    return FIRST[index % 10], f"{LAST[(index // 10) % 10]}{index // 100:03d}"


def test_search_over_ten_thousand_clients(staff_app: Flask) -> None:
    """Over 10,000 clients, does search return exactly the right clients, page by page, and
    read the narrow search_text index rather than every row?"""
    bulk_clients(10_000, name=_practice_name)
    assert client_count() == 10_000

    # "alvarez07" matches the hundred clients whose last name is Álvarez07x, in any case.
    expected = {i for i in range(10_000)
                if fold(" ".join(_practice_name(i))).find("alvarez07") >= 0}
    assert len(expected) == 100
    found: list[dict[str, Any]] = []
    page = 1
    while True:
        result = search_clients("ÁLVAREZ07", status="all", page=page)
        found += result.rows
        if not result.has_next:
            break
        page += 1
    assert page == 2 and len(found) == 100
    assert len({row["id"] for row in found}) == 100
    assert all(row["legal_last_name"].startswith("Álvarez07") for row in found)
    in_order = [(fold(r["legal_last_name"]), fold(r["legal_first_name"])) for r in found]
    assert in_order == sorted(in_order)

    # Two tokens narrow it further; a birth date finds everyone born that day.
    [zoe] = search_clients("zoe alvarez074").rows
    assert (zoe["legal_first_name"], zoe["legal_last_name"]) == ("Zoë", "Álvarez074")
    assert search_clients("%").rows == [] and search_clients("_").rows == []
    assert search_clients("01/01/1980").has_next

    # The search reads the folded search_text column through its index, whatever the filter.
    for status in ("all", "active", "discharged"):
        with count_queries() as counter:
            search_clients("alvarez07 zo", status=status)
        sql, params = next(q.msg for q in counter.get_queries()
                           if q.msg[0].startswith("SELECT") and "LIKE" in q.msg[0])
        assert sql.count('"search_text" LIKE') == 2
        plan = " ".join(row[3] for row in
                        storage.db.execute_sql(f"EXPLAIN QUERY PLAN {sql}", params).fetchall())
        assert "USING COVERING INDEX client_search_text" in plan, plan
