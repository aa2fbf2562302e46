"""Retention in the admin console: the policies (validated, audited), running them, the
review list and destroying a record from it, and who may do any of it."""

from __future__ import annotations

import re
from datetime import date

from flask import Flask
from flask.testing import FlaskClient

from tests.integration.web.conftest import (
    add_client,
    audit_entries,
    page_token,
    signed_in,
    text_of,
    words_of,
)
from webapp.audit import retention
from webapp.audit.models import DestructionRecord, RetentionPolicy, RetentionRun
from webapp.clients.models import Client
from webapp.core.models import StaffUser
from webapp.core.timeutil import utcnow
from webapp.notes.models import ClinicalNote

PAGE = "/admin/retention/"
KINDS = list(retention.KINDS)


def policy_form(**years: str) -> dict[str, str]:
    values = {kind: str(spec.default_years) for kind, spec in retention.KINDS.items()}
    return {**values, **years}


def post(browser: FlaskClient, path: str, data: dict[str, str]) -> object:
    return browser.post(path, data={"csrf_token": page_token(browser, PAGE), **data})


def due_client(first: str, years_discharged: int = 9, notes: int = 2) -> int:
    """A client discharged `years_discharged` years ago, with signed notes."""
    today = utcnow().date()
    client = add_client(first, "Archive", date(1960, 1, 1))
    author = StaffUser.get_or_none(StaffUser.username == "nwriter") or StaffUser.create(
        username="nwriter", full_name="Nora Writer", roles="clinician", password_hash="x")
    for index in range(notes):
        ClinicalNote.create(client=client.id, author=author.id, status="signed",
                            session_date=date(2010, 1, 1 + index), body="Seen.")
    Client.update(status="discharged", discharge_reason="Moved away",
                  discharged_on=retention.add_years(today, -years_discharged)).where(
        Client.id == client.id).execute()
    return int(client.id)


def test_the_page_shows_every_policy_and_says_which_kinds_have_no_records_yet(
        staff_app: Flask) -> None:
    admin = signed_in(staff_app, "radmin", ["admin"], "Rita Admin")
    page = admin.get(PAGE)
    assert page.status_code == 200
    words = words_of(page)
    for spec in retention.KINDS.values():
        assert f"{spec.label}: years kept" in words
    assert words.count("Hearth keeps no such records yet") == 3
    assert "listed for review" in words and "No clinical record is due" in words
    html = page.get_data(as_text=True)
    for kind in KINDS:
        assert f'<label for="{kind}">' in html, kind
    assert '<label for="override_reason">' in html
    assert " style=" not in html and "<script>" not in html


def test_policies_are_validated_and_lowering_audit_retention_needs_a_reason(
        staff_app: Flask) -> None:
    admin = signed_in(staff_app, "radmin", ["admin"], "Rita Admin")
    refused = post(admin, f"{PAGE}policies", policy_form(messages="lots"))
    assert refused.status_code == 400
    assert "Enter a whole number of years from 1 to 100." in text_of(refused)
    no_reason = post(admin, f"{PAGE}policies", policy_form(audit_entries="3", messages="2"))
    assert no_reason.status_code == 400
    assert "say why" in text_of(no_reason)
    assert RetentionPolicy.select().count() == 0
    assert audit_entries(action="config_change") == []

    saved = post(admin, f"{PAGE}policies", policy_form(
        audit_entries="3", override_reason="Our state board requires three years only."))
    assert saved.status_code == 302
    assert retention.years_for("audit_entries") == 3
    [override] = audit_entries(action="retention_override")
    assert override.object_type == "retention.audit_entries"
    assert override.actor_id == StaffUser.get(StaffUser.username == "radmin").id
    words = words_of(admin.get(PAGE))
    assert "override Our state board requires three years only." in words
    assert "Rita Admin" in words


def test_run_now_shows_what_the_run_did(staff_app: Flask) -> None:
    admin = signed_in(staff_app, "radmin", ["admin"], "Rita Admin")
    due_client("Dora")
    response = post(admin, f"{PAGE}run", {})
    assert response.status_code == 302
    [run] = RetentionRun.select()
    words = words_of(admin.get(PAGE))
    assert "Clinical records: 1 listed for review, none deleted" in words
    assert "Secure messages: nothing to do (no such records yet)" in words
    assert "1 clinical record due" in words
    [entry] = audit_entries(action="retention_run")
    assert entry.object_id == run.id and entry.actor_kind == "staff"


def test_destroying_from_the_review_list(staff_app: Flask) -> None:
    admin = signed_in(staff_app, "radmin", ["admin"], "Rita Admin")
    dora, eli = due_client("Dora"), due_client("Eli", notes=3)
    recent = due_client("Finn", years_discharged=2)
    review = admin.get(f"{PAGE}review")
    assert review.status_code == 200
    assert f"#{dora} Dora Archive" in words_of(review) and "Finn" not in words_of(review)
    assert re.search(rf'href="/admin/retention/clients/{dora}/destroy"', text_of(review))
    assert len(audit_entries(action="view", object_type="retention_review")) == 1

    destroy = f"{PAGE}clients/{dora}/destroy"
    assert admin.get(destroy).status_code == 200
    unconfirmed = post(admin, destroy, {"reason": "Retention period passed; reviewed."})
    assert unconfirmed.status_code == 400 and "Tick the box" in text_of(unconfirmed)
    short = post(admin, destroy, {"reason": "old", "confirm": "y"})
    assert short.status_code == 400 and "at least 10 characters" in text_of(short)
    assert ClinicalNote.select().count() == 7 and DestructionRecord.select().count() == 0

    done = post(admin, destroy, {"reason": "Retention period passed; reviewed.",
                                 "confirm": "y"})
    assert done.status_code == 302 and done.headers["Location"].endswith("/review")
    assert {n.client_id for n in ClinicalNote.select()} == {eli, recent}
    [destruction] = DestructionRecord.select()
    assert destruction.client_id == dora
    [entry] = audit_entries(action="destroy")
    assert entry.client_id == dora
    log = words_of(admin.get(f"{PAGE}review"))
    assert f"Clinical record of client #{dora}" in log and "Rita Admin" in log

    # Not on the list (too recent, or already destroyed): nothing to destroy.
    for client_id in (recent, dora):
        page = admin.get(f"{PAGE}clients/{client_id}/destroy")
        assert page.status_code == 200 and "is not due for review" in text_of(page)
        refused = post(admin, f"{PAGE}clients/{client_id}/destroy",
                       {"reason": "Retention period passed; reviewed.", "confirm": "y"})
        assert refused.status_code == 409
    assert admin.get(f"{PAGE}clients/999999/destroy").status_code == 404
    assert ClinicalNote.select().count() == 5 and DestructionRecord.select().count() == 1


def test_only_admins_reach_retention(staff_app: Flask) -> None:
    dora = due_client("Dora")
    for role in ("clinician", "supervisor", "biller", "front_desk"):
        browser = signed_in(staff_app, f"u{role}", [role], "Some One")
        token = page_token(browser, "/account")
        for method, path in (("GET", PAGE), ("GET", f"{PAGE}review"),
                             ("POST", f"{PAGE}run"), ("POST", f"{PAGE}policies"),
                             ("POST", f"{PAGE}clients/{dora}/destroy")):
            response = browser.open(path, method=method, data={
                "csrf_token": token, "reason": "Retention period passed.", "confirm": "y",
                **policy_form(audit_entries="1")} if method == "POST" else None)
            assert response.status_code == 403, (role, method, path)
    assert ClinicalNote.select().count() == 2
    assert RetentionRun.select().count() == 0 and RetentionPolicy.select().count() == 0
