"""Changes to what hangs off a client: guardians, insurance policies, assigned clinicians.

Split from service.py to keep each module readable; the same rules apply: each
change takes the acting user, checks the permission and the client's scope
(before the transaction, so a refusal's audit entry is kept), is a transaction
and writes its audit entry.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from appliance.storage import db
from webapp.access.service import require_permission
from webapp.audit.service import record
from webapp.clients.models import (
    GUARDIAN_RELATIONSHIPS,
    SUBSCRIBER_RELATIONSHIPS,
    ClinicianAssignment,
    Guardian,
    InsurancePolicy,
)
from webapp.clients.service import EMAIL, InvalidClient, get_client, normalize_phone
from webapp.core.models import StaffUser

MEMBER_ID = re.compile(r"^[A-Za-z0-9\-]{2,40}$")


def _text(values: dict[str, Any], name: str, limit: int, required: bool,
          errors: dict[str, str]) -> str:
    text = (values.get(name) or "").strip()
    if required and not text:
        errors[name] = "Required."
    elif len(text) > limit:
        errors[name] = f"Too long ({limit} characters at most)."
    return text


def _allowed(user: Any, permission: str, client_id: int) -> Any:
    require_permission(user, permission)
    return get_client(user, client_id, audit=False)


def add_guardian(user: Any, client_id: int, values: dict[str, Any]) -> Guardian:
    client = _allowed(user, "clients.edit", client_id)
    errors: dict[str, str] = {}
    full_name = _text(values, "full_name", 200, True, errors)
    relationship = (values.get("relationship") or "").strip()
    if relationship not in GUARDIAN_RELATIONSHIPS:
        errors["relationship"] = "Choose the relationship to the client."
    phone = (values.get("phone") or "").strip()
    if phone:
        try:
            phone = normalize_phone(phone)
        except ValueError as exc:
            errors["phone"] = f"{exc}."
    email = (values.get("email") or "").strip().lower()
    if email and not EMAIL.match(email):
        errors["email"] = "Enter an e-mail address like name@example.com."
    if not phone and not email and "phone" not in errors and "email" not in errors:
        errors["phone"] = "Give a phone number or an e-mail address to reach them."
    if errors:
        raise InvalidClient(errors)
    with db.atomic():
        guardian = Guardian.create(client=client, full_name=full_name, relationship=relationship,
                                   phone=phone, email=email,
                                   has_legal_authority=bool(values.get("has_legal_authority")))
        record("create", object_type="guardian", object_id=guardian.id, client_id=client.id)
    return guardian


def remove_guardian(user: Any, client_id: int, guardian_id: int) -> None:
    _allowed(user, "clients.edit", client_id)
    with db.atomic():
        guardian = Guardian.get_or_none((Guardian.id == guardian_id)
                                        & (Guardian.client == client_id))
        if guardian is None:
            raise InvalidClient({"guardian": "That guardian is not on this client's record."})
        guardian.delete_instance()
        record("delete", object_type="guardian", object_id=guardian_id, client_id=client_id)


def clean_policy_values(values: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {
        "payer_name": _text(values, "payer_name", 200, True, errors),
        "payer_id": _text(values, "payer_id", 20, False, errors).upper(),
        "member_id": _text(values, "member_id", 40, True, errors),
        "group_number": _text(values, "group_number", 40, False, errors),
        "subscriber_first_name": _text(values, "subscriber_first_name", 100, False, errors),
        "subscriber_last_name": _text(values, "subscriber_last_name", 100, False, errors),
    }
    if clean["member_id"] and not MEMBER_ID.match(clean["member_id"]):
        errors["member_id"] = "Letters, digits and dashes only, as on the card."
    try:
        clean["rank"] = int(values.get("rank") or 1)
    except (TypeError, ValueError):
        clean["rank"] = 0
    if clean["rank"] not in (1, 2, 3):
        errors["rank"] = "Choose primary, secondary or tertiary."
    relationship = values.get("subscriber_relationship") or "self"
    clean["subscriber_relationship"] = relationship
    if relationship not in SUBSCRIBER_RELATIONSHIPS:
        errors["subscriber_relationship"] = "Choose the client's relationship to the subscriber."
    subscriber_dob = values.get("subscriber_date_of_birth")
    clean["subscriber_date_of_birth"] = subscriber_dob if isinstance(subscriber_dob, date) else None
    if relationship != "self":
        for name in ("subscriber_first_name", "subscriber_last_name"):
            if not clean[name]:
                errors.setdefault(name, "Required when the client is not the subscriber.")
        if clean["subscriber_date_of_birth"] is None:
            errors["subscriber_date_of_birth"] = "Required when the client is not the subscriber."
    else:
        clean["subscriber_first_name"] = clean["subscriber_last_name"] = ""
        clean["subscriber_date_of_birth"] = None
    for name in ("effective_on", "ends_on"):
        value = values.get(name)
        clean[name] = value if isinstance(value, date) else None
    if clean["effective_on"] and clean["ends_on"] and clean["ends_on"] < clean["effective_on"]:
        errors["ends_on"] = "The end date is before the effective date."
    if errors:
        raise InvalidClient(errors)
    return clean


def save_policy(user: Any, client_id: int, values: dict[str, Any],
                policy_id: int | None = None) -> InsurancePolicy:
    client = _allowed(user, "clients.insurance", client_id)
    clean = clean_policy_values(values)
    with db.atomic():
        clash = InsurancePolicy.select().where(
            (InsurancePolicy.client == client.id) & (InsurancePolicy.rank == clean["rank"]))
        if policy_id is not None:
            clash = clash.where(InsurancePolicy.id != policy_id)
        if clash.exists():
            raise InvalidClient({"rank": "This client already has a policy at that rank."})
        if policy_id is None:
            policy = InsurancePolicy.create(client=client, **clean)
            action = "create"
        else:
            found = InsurancePolicy.get_or_none((InsurancePolicy.id == policy_id)
                                                & (InsurancePolicy.client == client.id))
            if found is None:
                raise InvalidClient({"policy": "That policy is not on this client's record."})
            for name, value in clean.items():
                setattr(found, name, value)
            found.save()
            policy = found
            action = "update"
        record(action, object_type="insurance_policy", object_id=policy.id, client_id=client.id)
    return policy


def remove_policy(user: Any, client_id: int, policy_id: int) -> None:
    _allowed(user, "clients.insurance", client_id)
    with db.atomic():
        deleted = InsurancePolicy.delete().where((InsurancePolicy.id == policy_id)
                                                 & (InsurancePolicy.client == client_id)).execute()
        if not deleted:
            raise InvalidClient({"policy": "That policy is not on this client's record."})
        record("delete", object_type="insurance_policy", object_id=policy_id, client_id=client_id)


def assign_clinician(user: Any, client_id: int, clinician_id: int,
                     primary: bool) -> ClinicianAssignment:
    client = _allowed(user, "clients.edit", client_id)
    with db.atomic():
        clinician = StaffUser.get_or_none((StaffUser.id == clinician_id)
                                          & (StaffUser.is_active == True))  # noqa: E712
        if clinician is None or not clinician.role_set & {"clinician", "supervisor"}:
            raise InvalidClient({"clinician": "Choose an active clinician."})
        if primary:
            ClinicianAssignment.update(is_primary=False).where(
                ClinicianAssignment.client == client.id).execute()
        assignment, created = ClinicianAssignment.get_or_create(
            client=client, clinician=clinician, defaults={"is_primary": primary})
        if not created and assignment.is_primary != primary:
            assignment.is_primary = primary
            assignment.save()
        record("assign", object_type="clinician_assignment", object_id=assignment.id,
               client_id=client.id)
    return assignment


def unassign_clinician(user: Any, client_id: int, clinician_id: int) -> None:
    _allowed(user, "clients.edit", client_id)
    with db.atomic():
        assignment = ClinicianAssignment.get_or_none(
            (ClinicianAssignment.client == client_id)
            & (ClinicianAssignment.clinician == clinician_id))
        if assignment is None:
            raise InvalidClient({"clinician": "That clinician is not assigned to this client."})
        assignment.delete_instance()
        # The entry names the assignment (as "assign" did), not the clinician.
        record("unassign", object_type="clinician_assignment", object_id=assignment.id,
               client_id=client_id)
