"""Guardians, insurance and clinicians on a client record, and what each role may change."""

from __future__ import annotations

import re
from datetime import date

import pytest
from flask.testing import FlaskClient

from tests.conftest import make_staff
from tests.integration.web.conftest import (
    POLICY,
    SETUP_DESK,
    add_caseload_client,
    add_client,
    audit_entries,
    client_count,
    client_entries,
    field_error,
    form,
    post_form,
    text_of,
)
from webapp.clients import related_service
from webapp.clients.models import Client, ClinicianAssignment, Guardian, InsurancePolicy
from webapp.clients.service import InvalidClient
from webapp.core.models import StaffUser

# -- guardians ----------------------------------------------------------------

def test_add_and_remove_a_guardian(clinician_client: FlaskClient) -> None:
    """Can a guardian be added to a minor's record and removed again, each change audited?"""
    minor = add_caseload_client("Theo", "Park", date(2015, 6, 1))
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
    minor = add_caseload_client("Theo", "Park", date(2015, 6, 1))
    response = post_form(clinician_client, f"/clients/{minor.id}/guardians/new",
                         {"full_name": "Grace Park", "relationship": "parent", **values})
    assert response.status_code == 422
    assert field_error(response, field) == message
    assert not Guardian.select().exists()
    assert not client_entries("create", "guardian")


def test_a_guardian_cannot_be_removed_through_another_clients_page(
        clinician_client: FlaskClient) -> None:
    """Does removing guardian G under client B's address leave G on client A's record?"""
    theo = add_caseload_client("Theo", "Park", date(2015, 6, 1))
    mia = add_caseload_client("Mia", "Lee", date(2014, 1, 1))
    guardian = related_service.add_guardian(SETUP_DESK, theo.id, {"full_name": "Grace Park",
                                                      "relationship": "parent",
                                                      "phone": "5185550123"})
    post_form(clinician_client, f"/clients/{mia.id}/guardians/{guardian.id}/remove", {})
    assert Guardian.get_or_none(Guardian.id == guardian.id) is not None
    assert "That guardian is not on this client" in text_of(
        clinician_client.get(f"/clients/{mia.id}"))


# -- insurance ----------------------------------------------------------------

SPOUSE = {"subscriber_relationship": "spouse", "subscriber_first_name": "Luis",
          "subscriber_last_name": "Ortega", "subscriber_date_of_birth": "1984-07-09"}


def test_add_edit_and_remove_insurance(clinician_client: FlaskClient) -> None:
    """Can a primary and a secondary policy be added, one edited and one removed, each audited?"""
    client = add_caseload_client("Ana", "Ortega")
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
    client = add_caseload_client("Ana", "Ortega")
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
    client = add_caseload_client("Ana", "Ortega")
    response = post_form(clinician_client, f"/clients/{client.id}/insurance/new",
                         {**POLICY, **changes})
    assert response.status_code == 422
    assert field_error(response, field) == message
    assert not InsurancePolicy.select().exists()


def test_two_policies_at_the_same_rank_are_refused(clinician_client: FlaskClient) -> None:
    """Can a client end up with two primary policies, by adding or by editing?"""
    client = add_caseload_client("Ana", "Ortega")
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
    ana = add_caseload_client("Ana", "Ortega")
    bea = add_caseload_client("Bea", "Ortiz")
    policy = related_service.save_policy(SETUP_DESK, ana.id, {**POLICY, "effective_on": None})
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
    client = add_caseload_client("Ana", "Ortega")
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
        related_service.assign_clinician(SETUP_DESK, client.id, biller.id, primary=False)

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
