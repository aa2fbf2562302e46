"""Record revisions of clients: every change kept as a version with its differences and a
content hash, a history page behind the client page's own access check, and
`verify_revisions` finding a version altered in the database."""

from __future__ import annotations

import hashlib
import json
from datetime import date

from flask.testing import FlaskClient

from appliance.storage import db
from tests.integration.web.care_team import Team, team_fixture  # noqa: F401
from tests.integration.web.conftest import (
    SETUP_DESK,
    TODAY,
    audit_entries,
    form,
    post_form,
    text_of,
    words_of,
)
from webapp.clients import service as clients_service
from webapp.clients.models import Client
from webapp.core.models import StaffUser
from webapp.revisions import service
from webapp.revisions.models import Revision


def versions_of(client_id: int) -> list[Revision]:
    return list(Revision.select().where((Revision.object_type == "client")
                                        & (Revision.object_id == client_id))
                .order_by(Revision.version))


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_the_client_form_records_versions_with_diffs_and_hashes(
        clinician_client: FlaskClient) -> None:
    """Do adding, editing, discharging and reactivating a client through the pages each
    store one version: the whole record, exactly what changed, who, and a hash that
    matches? Does saving an unchanged form add none?"""
    assert post_form(clinician_client, "/clients/new", form()).status_code == 302
    client = Client.get(Client.legal_last_name == "Quintero")
    clinician = StaffUser.get(StaffUser.username == "jchen")
    [first] = versions_of(client.id)
    snapshot = json.loads(first.snapshot)
    assert first.version == 1 and json.loads(first.changes) == {}
    assert (first.actor_kind, first.actor_id) == ("staff", clinician.id)
    assert snapshot["city"] == "Troy" and snapshot["date_of_birth"] == "1988-03-14"
    assert snapshot["id"] == client.id and snapshot["consent_sms"] is True
    assert first.content_hash == sha256(first.snapshot)
    assert first.snapshot == service.canonical(service.snapshot_of(client))

    edited = form(city="Albany", consent_sms=None, mobile_phone="518-555-0100")
    assert post_form(clinician_client, f"/clients/{client.id}/edit", edited).status_code == 302
    second = versions_of(client.id)[1]
    changes = json.loads(second.changes)
    assert set(changes) == {"city", "consent_sms", "mobile_phone", "updated_at"}
    assert changes["city"] == ["Troy", "Albany"]
    assert changes["consent_sms"] == [True, False]
    assert changes["mobile_phone"] == ["(518) 555-0142", "(518) 555-0100"]
    assert second.version == 2 and second.content_hash == sha256(second.snapshot)
    assert json.loads(second.snapshot)["city"] == "Albany"

    # The same form again: a save, an audit entry, but nothing new to keep.
    assert post_form(clinician_client, f"/clients/{client.id}/edit", edited).status_code == 302
    assert len(versions_of(client.id)) == 2

    assert post_form(clinician_client, f"/clients/{client.id}/discharge",
                     {"discharged_on": "2026-11-20", "reason": "Goals met"},
                     token_from=f"/clients/{client.id}").status_code == 302
    assert post_form(clinician_client, f"/clients/{client.id}/reactivate", {},
                     token_from=f"/clients/{client.id}").status_code == 302
    third, fourth = versions_of(client.id)[2:]
    assert json.loads(third.changes) | {"updated_at": None} == {
        "status": ["active", "discharged"], "discharged_on": [None, "2026-11-20"],
        "discharge_reason": ["", "Goals met"], "updated_at": None}
    assert {k: v for k, v in json.loads(fourth.changes).items() if k != "updated_at"} == {
        "status": ["discharged", "active"], "discharged_on": ["2026-11-20", None],
        "discharge_reason": ["Goals met", ""]}
    assert service.verify_revisions() == []

    page = clinician_client.get(f"/clients/{client.id}/history")
    assert page.status_code == 200
    words = words_of(page)
    assert "Version 4" in words and "Version 1" in words
    assert "City Troy Albany" in words
    assert "Mobile phone (518) 555-0142 (518) 555-0100" in words
    assert "Status discharged active" in words
    assert clinician.display_name in words and "content matches" in words
    [viewed] = audit_entries(action="view", object_type="client_history")
    assert (viewed.object_id, viewed.client_id, viewed.actor_id) == (
        client.id, client.id, clinician.id)
    show = text_of(clinician_client.get(f"/clients/{client.id}"))
    assert f'href="/clients/{client.id}/history"' in show


def test_a_client_on_file_before_revisions_keeps_its_earlier_state_as_version_1(
        clinician_client: FlaskClient) -> None:
    """Does the first change to a client written before revisions existed keep the state
    before it (version 1, nobody named) and the change (version 2)?"""
    with db.atomic():
        old = Client.create(legal_first_name="Odile", legal_last_name="Older",
                            date_of_birth=date(1970, 5, 5), city="Hudson")
    assert versions_of(old.id) == []
    with db.connection_context():
        clients_service.update_client(SETUP_DESK, old.id, {
            "legal_first_name": "Odile", "legal_last_name": "Older",
            "date_of_birth": date(1970, 5, 5), "city": "Catskill"}, TODAY)
    baseline, change = versions_of(old.id)
    assert (baseline.version, baseline.actor_kind, baseline.actor_id) == (1, "baseline", None)
    assert json.loads(baseline.snapshot)["city"] == "Hudson"
    assert json.loads(change.changes)["city"] == ["Hudson", "Catskill"]
    assert change.version == 2 and change.actor_kind == "staff"


def test_the_history_page_is_refused_outside_the_clients_scope(team: Team) -> None:
    """Does the history page answer to the client page's own rules: Ben (not his client)
    gets the break-glass page and a permission_denied entry, never the history; the front
    desk and Ada see it; a missing client is 404?"""
    with db.connection_context():
        clients_service.update_client(team.user("ada"), team.a1, {
            "legal_first_name": "Amelia", "legal_last_name": "Aster",
            "date_of_birth": date(1984, 6, 1), "city": "Kingston"}, TODAY)
    denied_before = len(audit_entries(action="permission_denied"))
    refused = team.browser("ben").get(f"/clients/{team.a1}/history")
    assert refused.status_code == 403
    assert "Kingston" not in text_of(refused) and "Amelia" not in text_of(refused)
    [denied] = audit_entries(action="permission_denied")[denied_before:]
    assert (denied.actor_id, denied.client_id) == (team.user("ben").id, team.a1)
    assert audit_entries(action="view", object_type="client_history") == []

    for username in ("ada", "sam", "fran", "bill"):
        page = team.browser(username).get(f"/clients/{team.a1}/history")
        assert page.status_code == 200, username
        assert "Kingston" in text_of(page)
    assert len(audit_entries(action="view", object_type="client_history")) == 4
    assert team.browser("ada").get("/clients/999999/history").status_code == 404


def test_verify_revisions_reports_a_tampered_version(clinician_client: FlaskClient) -> None:
    """Does a snapshot changed in the database (hash left alone) no longer match its hash,
    and is it named by verify_revisions and flagged on the history page? Are a rewritten
    changes list and a deleted version found too?"""
    assert post_form(clinician_client, "/clients/new", form()).status_code == 302
    client = Client.get(Client.legal_last_name == "Quintero")
    for city in ("Albany", "Cohoes", "Delmar"):
        assert post_form(clinician_client, f"/clients/{client.id}/edit",
                         form(city=city)).status_code == 302
    first, second, third, fourth = versions_of(client.id)
    assert service.verify_revisions() == []

    forged = first.snapshot.replace('"city":"Troy"', '"city":"Tribes Hill"')
    assert forged != first.snapshot
    Revision.update(snapshot=forged).where(Revision.id == first.id).execute()
    found, after = service.verify_revisions()
    assert (found.revision_id, found.object_type, found.object_id, found.version) == (
        first.id, "client", client.id, 1)
    assert "does not match its content hash" in found.problem
    # ... and the next version's recorded changes no longer start from what it says.
    assert (after.revision_id, after.version) == (second.id, 2)
    page = words_of(clinician_client.get(f"/clients/{client.id}/history"))
    assert "content does not match its fingerprint" in page

    # Snapshot and hash rewritten together: the changes recorded around it disagree.
    Revision.update(snapshot=forged, content_hash=sha256(forged)).where(
        Revision.id == first.id).execute()
    [found] = service.verify_revisions("client")
    assert (found.revision_id, found.version) == (second.id, 2)
    assert "changes disagree" in found.problem

    Revision.update(snapshot=first.snapshot, content_hash=first.content_hash).where(
        Revision.id == first.id).execute()
    Revision.delete().where(Revision.id == third.id).execute()
    [gap] = service.verify_revisions()
    assert (gap.object_id, gap.version, gap.revision_id) == (client.id, 3, None)
    assert "missing" in gap.problem
    assert fourth.version == 4
