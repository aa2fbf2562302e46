"""Reviewing the trail in the admin console: the filtered viewer and its pages, the
exports, a client's access report and accounting of disclosures, who may open them,
and that every filter shape walks an index.

A few thousand entries spread over seven years are written straight into the
table (the viewer reads, it does not verify the chain), next to the entries the
app writes itself while the test signs in and looks around. Expected results are
computed in Python from every row in the table, so the app's own entries count too.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient

from appliance.storage import db
from tests.integration.web.conftest import (
    add_client,
    audit_entries,
    links_on,
    page_token,
    signed_in,
    text_of,
)
from webapp.audit import review
from webapp.audit.models import AuditEntry
from webapp.core.models import StaffUser

ZONE = ZoneInfo("America/New_York")  # the default practice time zone
START = datetime(2019, 1, 1, 3, 0)
SEEDED = 3000
ACTIONS = ("view", "update", "create", "login", "export", "print", "permission_denied",
           "claim", "search", "release")
OBJECTS = ("client", "clinical_note", "guardian", "insurance_policy", "account")
OUTCOMES = ("success", "success", "success", "denied", "failure")
_ROW = re.compile(r'data-entry="(\d+)"')
_NEXT = re.compile(r'href="([^"]*)" rel="next"')


@pytest.fixture
def admin(staff_app: Flask) -> FlaskClient:
    return signed_in(staff_app, "rita", ["admin"], "Rita Admin")


def seed(staff_ids: list[int], client_ids: list[int], count: int = SEEDED) -> None:
    """`count` entries over seven years, every field cycling on its own period."""
    rows = []
    for n in range(count):
        rows.append({
            "occurred_at": START + timedelta(hours=n * 20, seconds=n % 7),
            "actor_kind": "staff" if n % 11 else "system",
            "actor_id": staff_ids[n % len(staff_ids)] if n % 11 else None,
            "actor_role": "clinician", "action": ACTIONS[n % len(ACTIONS)],
            "object_type": OBJECTS[n % len(OBJECTS)], "object_id": n % 37,
            "client_id": client_ids[n % len(client_ids)] if n % 4 else None,
            "source_address": "10.0.0.7", "request_id": f"r{n}",
            "outcome": OUTCOMES[n % len(OUTCOMES)]})
    # A burst sharing one timestamp, so pages must break ties by id.
    for _ in range(120):
        rows.append({"occurred_at": datetime(2024, 5, 5, 12, 0), "actor_kind": "staff",
                     "actor_id": staff_ids[0], "actor_role": "admin", "action": "view",
                     "object_type": "client", "object_id": 5, "client_id": client_ids[0],
                     "outcome": "success"})
    with db.atomic():
        for start in range(0, len(rows), 500):
            AuditEntry.insert_many(rows[start:start + 500]).execute()


@pytest.fixture
def trail(admin: FlaskClient) -> dict[str, Any]:
    """The admin signed in, three more staff, three clients on file, the seeded trail."""
    with db.connection_context():
        staff = [StaffUser.get(StaffUser.username == "rita").id]
        for name in ("ada", "ben", "cy"):
            staff.append(StaffUser.create(username=name, full_name=name.title() + " Staff",
                                          roles="clinician", password_hash="x").id)
    clients = [add_client("Marisol", "Quintero").id, add_client("Tomas", "Eklund").id,
               add_client("Ines", "Varga").id]
    with db.connection_context():
        seed(staff, clients)
    return {"admin": admin, "staff": staff, "clients": clients}


def expected(match: Callable[[AuditEntry], bool]) -> list[int]:
    """Ids of every entry in the table that `match` accepts, newest first."""
    with db.connection_context():
        rows = [row for row in AuditEntry.select() if match(row)]
    rows.sort(key=lambda row: (row.occurred_at, row.id), reverse=True)
    return [row.id for row in rows]


def walk(browser: FlaskClient, url: str, between: Callable[[], None] | None = None) -> list[int]:
    """Every entry id the viewer shows from `url`, following "Older entries" to the end."""
    shown: list[int] = []
    while True:
        page = browser.get(url)
        assert page.status_code == 200, text_of(page)
        shown += [int(found) for found in _ROW.findall(page.get_data(as_text=True))]
        more = _NEXT.search(page.get_data(as_text=True))
        if more is None:
            return shown
        url = html.unescape(more.group(1))
        if between:
            between()


def utc(day: date, zone: ZoneInfo = ZONE) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC).replace(
        tzinfo=None)


# -- filters -------------------------------------------------------------------------------

def test_each_filter_narrows_the_trail(trail: dict[str, Any]) -> None:
    """Does each filter (staff by username and by id, client, action, object type, object
    type and id, outcome) show exactly the matching entries, newest first, across pages?"""
    admin, staff, clients = trail["admin"], trail["staff"], trail["clients"]
    ada, marisol = staff[1], clients[0]
    cases: list[tuple[str, Callable[[AuditEntry], bool]]] = [
        ("user=ada", lambda e: e.actor_kind == "staff" and e.actor_id == ada),
        (f"user={ada}", lambda e: e.actor_kind == "staff" and e.actor_id == ada),
        (f"client={marisol}", lambda e: e.client_id == marisol),
        ("action=export", lambda e: e.action == "export"),
        ("object_type=guardian", lambda e: e.object_type == "guardian"),
        ("object_type=guardian&object_id=5",
         lambda e: e.object_type == "guardian" and e.object_id == 5),
        ("outcome=denied", lambda e: e.outcome == "denied"),
        (f"client={marisol}&action=view&user=rita",
         lambda e: e.client_id == marisol and e.action == "view" and e.actor_id == staff[0]
         and e.actor_kind == "staff"),
    ]
    for query, match in cases:
        want = expected(match)
        assert 0 < len(want) < SEEDED, query
        assert walk(admin, f"/admin/audit/?{query}") == want, query


def test_unfiltered_first_page_and_a_date_range_spanning_years(trail: dict[str, Any]) -> None:
    """Is the unfiltered page the newest 50 entries, and does a range of several years
    (practice-time days, both ends included) show exactly the entries inside it?"""
    admin = trail["admin"]
    want = expected(lambda e: True)[:review.PAGE_SIZE]
    page = admin.get("/admin/audit/")
    assert [int(i) for i in _ROW.findall(page.get_data(as_text=True))] == want
    first, last = date(2019, 3, 1), date(2024, 6, 30)
    since, until = utc(first), utc(last + timedelta(days=1))
    want = expected(lambda e: since <= e.occurred_at < until and e.action == "claim")
    assert len(want) > 100
    shown = walk(admin, f"/admin/audit/?date_from={first}&date_to={last}&action=claim")
    assert shown == want
    # Open-ended: everything since a day years ago, and everything up to a day.
    assert walk(admin, "/admin/audit/?date_to=2019-12-31&outcome=failure") == expected(
        lambda e: e.occurred_at < utc(date(2020, 1, 1)) and e.outcome == "failure")


def test_pages_stay_stable_while_entries_arrive(trail: dict[str, Any]) -> None:
    """Walking the pages while new entries are written (the admin's own looks included),
    does every entry of the first look appear exactly once, ties broken by id?"""
    admin, clients = trail["admin"], trail["clients"]
    want = expected(lambda e: e.client_id == clients[0])

    def someone_writes() -> None:
        with db.atomic():
            AuditEntry.create(actor_kind="staff", actor_id=trail["staff"][1], action="view",
                              object_type="client", object_id=clients[0],
                              client_id=clients[0])

    shown = walk(admin, f"/admin/audit/?client={clients[0]}", between=someone_writes)
    assert shown == want and len(shown) == len(set(shown))
    assert admin.get("/admin/audit/?before=999999999").status_code == 404
    assert admin.get("/admin/audit/?before=abc").status_code == 400


def test_an_unindexed_filter_searches_a_slice_per_page(trail: dict[str, Any],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """With outcome (no index) each page looks through a bounded slice of the trail; does
    following "Keep searching" still show every match exactly once, in order?"""
    monkeypatch.setattr(review, "SEARCH_WINDOW", 150)
    admin = trail["admin"]
    want = expected(lambda e: e.outcome == "failure")
    first = admin.get("/admin/audit/?outcome=failure")
    assert "Searched the trail back to" in text_of(first)
    assert "Keep searching older entries" in text_of(first)
    assert walk(admin, "/admin/audit/?outcome=failure") == want
    combined = expected(lambda e: e.outcome == "denied" and e.action == "view")
    assert walk(admin, "/admin/audit/?outcome=denied&action=view") == combined


@pytest.mark.parametrize(("query", "message"), [
    ("client=abc", "Not a valid integer value."),
    ("client=0", "A record id is a whole number from 1 up."),
    ("user=nobody", "No staff member has that username or id."),
    ("action=DROP TABLE", "Lower-case letters, digits, dots and underscores only"),
    ("object_id=4", "Give the object type with an object id."),
    ("date_from=2024-02-01&date_to=2024-01-01", "The end of the period comes before its start."),
    ("date_from=yesterday", "Not a valid date value."),
])
def test_bad_filters_are_refused_with_a_message(admin: FlaskClient, query: str,
                                                message: str) -> None:
    page = admin.get(f"/admin/audit/?{query}")
    assert page.status_code == 400
    assert message in text_of(page)
    assert "data-entry=" not in page.get_data(as_text=True)
    assert admin.get(f"/admin/audit/export.csv?{query}").status_code == 400


def test_viewing_the_trail_is_recorded(trail: dict[str, Any]) -> None:
    admin, clients = trail["admin"], trail["clients"]
    with db.connection_context():
        before = len(audit_entries(object_type="audit_trail"))
    assert admin.get(f"/admin/audit/?client={clients[1]}").status_code == 200
    with db.connection_context():
        looks = audit_entries(object_type="audit_trail")
    assert len(looks) == before + 1
    look = looks[-1]
    assert (look.action, look.client_id, look.actor_role) == ("view", clients[1], "admin")


def test_rows_show_every_column_in_practice_time(trail: dict[str, Any]) -> None:
    admin = trail["admin"]
    with db.atomic():
        entry = AuditEntry.create(occurred_at=datetime(2025, 7, 4, 16, 5, 9),
                                  actor_kind="staff", actor_id=trail["staff"][2],
                                  actor_role="clinician,supervisor", action="sign",
                                  object_type="clinical_note", object_id=77,
                                  client_id=trail["clients"][2], source_address="192.0.2.44",
                                  request_id="req-abc123", outcome="success")
    page = text_of(admin.get("/admin/audit/?action=sign&object_type=clinical_note"))
    row = page[page.index(f'data-entry="{entry.id}"'):].split("</tr>")[0]
    for shown in ("2025-07-04 12:05:09",  # 16:05 UTC is 12:05 in New York in July
                  "Ben Staff (ben)", "clinician,supervisor", "sign", "clinical_note #77",
                  f"#{trail['clients'][2]}", "192.0.2.44", "req-abc123", "success"):
        assert shown in row, shown


# -- who may look ------------------------------------------------------------------------

@pytest.mark.parametrize("roles", [["clinician"], ["supervisor"], ["biller"], ["front_desk"],
                                   ["clinician", "supervisor"]])
def test_only_admins_review_the_trail(staff_app: Flask, roles: list[str]) -> None:
    """Is every review page refused (403, audited) to each other role?"""
    client = add_client()
    browser = signed_in(staff_app, "other", roles, "Oli Other")
    for url in ("/admin/audit/", "/admin/audit/export.csv", "/admin/audit/export.json",
                f"/admin/audit/clients/{client.id}/access",
                f"/admin/audit/clients/{client.id}/access.csv",
                f"/admin/audit/clients/{client.id}/disclosures",
                f"/admin/audit/clients/{client.id}/disclosures.csv"):
        assert browser.get(url).status_code == 403, url
    token = page_token(browser, "/account")
    assert browser.post("/admin/audit/find-client", data={
        "csrf_token": token, "name": "Núñez"}).status_code == 403
    with db.connection_context():
        refused = audit_entries(action="permission_denied")
        assert len(refused) == 8
        assert not audit_entries(object_type="audit_trail")
        assert not audit_entries(action="export")


# -- exports ---------------------------------------------------------------------------

def test_exports_match_the_filter_and_are_recorded(trail: dict[str, Any]) -> None:
    """Do the CSV and JSON exports hold exactly the filtered entries (all of them, not a
    page), streamed, under a file name without client information, each export audited?"""
    admin, clients = trail["admin"], trail["clients"]
    query = f"client={clients[1]}&date_from=2020-01-01"
    since = utc(date(2020, 1, 1))
    want = expected(lambda e: e.client_id == clients[1] and e.occurred_at >= since)
    assert len(want) > review.PAGE_SIZE

    response = admin.get(f"/admin/audit/export.csv?{query}")
    assert response.status_code == 200 and response.is_streamed
    assert response.mimetype == "text/csv"
    disposition = response.headers["Content-Disposition"]
    assert re.fullmatch(r'attachment; filename="audit-trail-\d{8}-\d{6}\.csv"', disposition)
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [int(row["id"]) for row in rows] == want
    assert tuple(rows[0]) == review.EXPORT_COLUMNS
    assert {row["client_id"] for row in rows} == {str(clients[1])}

    want = expected(lambda e: e.client_id == clients[1] and e.occurred_at >= since)
    assert len(want) == len(rows) + 1  # the CSV export's own entry is about this client too
    response = admin.get(f"/admin/audit/export.json?{query}")
    assert response.status_code == 200 and response.is_streamed
    assert response.headers["Content-Disposition"].endswith('.json"')
    document = json.loads(response.get_data(as_text=True))
    assert [entry["id"] for entry in document["entries"]] == want
    assert document["filter"] == {"client_id": clients[1], "since": since.isoformat() + "Z"}
    first = document["entries"][0]
    assert first["occurred_at_utc"].endswith("Z") and first["occurred_at_local"][-6:] in (
        "-05:00", "-04:00")

    with db.connection_context():
        exports = audit_entries(action="export", object_type="audit_trail")
    assert [(e.client_id, e.actor_role) for e in exports] == [(clients[1], "admin")] * 2
    for name in ("Tomas", "Eklund"):
        assert name not in disposition


def test_an_unfiltered_export_holds_the_whole_trail(trail: dict[str, Any]) -> None:
    admin = trail["admin"]
    want = expected(lambda e: True)
    rows = list(csv.DictReader(io.StringIO(admin.get("/admin/audit/export.csv").get_data(
        as_text=True))))
    assert [int(row["id"]) for row in rows] == want  # the trail as it stood: not its own entry


def test_a_spreadsheet_never_runs_an_exported_cell(trail: dict[str, Any]) -> None:
    with db.atomic():
        StaffUser.update(full_name="=HYPERLINK(\"x\")").where(
            StaffUser.username == "cy").execute()
    rows = list(csv.DictReader(io.StringIO(trail["admin"].get(
        "/admin/audit/export.csv?user=cy").get_data(as_text=True))))
    assert rows and {row["actor_name"] for row in rows} == {"'=HYPERLINK(\"x\")"}


# -- finding a client ------------------------------------------------------------------

def test_a_client_is_found_by_name_without_the_name_in_any_url(trail: dict[str, Any]) -> None:
    admin, clients = trail["admin"], trail["clients"]
    token = page_token(admin, "/admin/audit/")
    found = admin.post("/admin/audit/find-client", data={"csrf_token": token,
                                                         "name": "quintero"})
    assert found.status_code == 200
    assert "Quintero, Marisol" in text_of(found) and "Eklund" not in text_of(found)
    assert f"/admin/audit/?client={clients[0]}" in links_on(found)
    assert f"/admin/audit/clients/{clients[0]}/access" in links_on(found)
    assert not any("uintero" in link for link in links_on(found))
    empty = admin.post("/admin/audit/find-client", data={"csrf_token": token, "name": " "})
    assert empty.status_code == 400 and "Type part of the client's name" in text_of(empty)
    assert admin.get("/admin/audit/find-client").status_code == 405
    with db.connection_context():
        assert audit_entries(action="search", object_type="client_list")


# -- one client's reports ----------------------------------------------------------------

def test_the_access_report_lists_exactly_this_clients_reads_and_changes(
        trail: dict[str, Any]) -> None:
    """Does the access report list every entry about this client in the period (oldest
    first, with who, role and action) and nothing else, on the page and in the CSV?"""
    admin, clients = trail["admin"], trail["clients"]
    marisol = clients[0]
    admin.get(f"/clients/{marisol}")  # a real read through the app
    first, last = date(2021, 1, 1), date(2099, 12, 31)
    since, until = utc(first), utc(last + timedelta(days=1))
    want = list(reversed(expected(lambda e: e.client_id == marisol
                                  and since <= e.occurred_at < until
                                  and e.object_type not in review.REVIEW_OBJECTS)))
    assert len(want) > 200
    url = f"/admin/audit/clients/{marisol}/access?date_from={first}&date_to={last}"
    page = admin.get(url)
    assert page.status_code == 200
    assert [int(i) for i in _ROW.findall(page.get_data(as_text=True))] == want
    words = text_of(page)
    assert "Marisol Quintero" in words and "Rita Admin (rita)" in words
    assert "Ada Staff (ada)" in words
    with db.connection_context():
        read = audit_entries(action="view", object_type="client", client_id=marisol)[-1]
    assert f'data-entry="{read.id}"' in page.get_data(as_text=True)

    rows = list(csv.DictReader(io.StringIO(admin.get(
        url.replace("/access?", "/access.csv?")).get_data(as_text=True))))
    assert [int(row["id"]) for row in rows] == want
    with db.connection_context():
        looked = audit_entries(object_type="access_report", client_id=marisol)
    assert [e.action for e in looked] == ["view", "export"]
    # The default period is the six years before today; an inverted one is refused.
    assert admin.get(f"/admin/audit/clients/{marisol}/access").status_code == 200
    bad = admin.get(f"/admin/audit/clients/{marisol}/access?date_from=2024-01-02"
                    "&date_to=2024-01-01")
    assert bad.status_code == 400 and "comes before its start" in text_of(bad)
    assert admin.get("/admin/audit/clients/999999/access").status_code == 404


def test_the_accounting_of_disclosures_lists_only_disclosures(trail: dict[str, Any]) -> None:
    """Does the accounting show this client's exports, prints, releases and claims (with
    recipient type and purpose) and no other action, nor another client's?"""
    admin, clients = trail["admin"], trail["clients"]
    tomas = clients[1]
    with db.atomic():
        AuditEntry.create(occurred_at=datetime(2026, 1, 2, 15, 0), actor_kind="staff",
                          actor_id=trail["staff"][3], actor_role="biller", action="claim",
                          object_type="claim", object_id=9001, client_id=tomas)
    want = list(reversed(expected(lambda e: e.client_id == tomas
                                  and e.action in review.DISCLOSURE_ACTIONS
                                  and e.object_type not in review.REVIEW_OBJECTS)))
    assert {"export", "print", "claim", "release"} <= {
        e.action for e in AuditEntry.select().where(AuditEntry.id.in_(want))}
    url = f"/admin/audit/clients/{tomas}/disclosures?date_from=2000-01-01&date_to=2099-01-01"
    page = admin.get(url)
    assert page.status_code == 200
    assert [int(i) for i in _ROW.findall(page.get_data(as_text=True))] == want
    words = text_of(page)
    assert "Health plan (payer)" in words and "Payment: insurance claim" in words
    assert "Release of information" in words
    rows = list(csv.DictReader(io.StringIO(admin.get(
        url.replace("/disclosures?", "/disclosures.csv?")).get_data(as_text=True))))
    assert [int(row["id"]) for row in rows] == want
    assert {row["action"] for row in rows} <= set(review.DISCLOSURE_ACTIONS)
    assert rows[-1]["recipient"] == "Health plan (payer)"
    # Its own export is on the record but is not a disclosure of the client's record.
    assert [int(i) for i in _ROW.findall(admin.get(url).get_data(as_text=True))] == want


# -- every filter shape walks an index ----------------------------------------------------

def plan_of(query: Any) -> str:
    sql, params = query.sql()
    return " | ".join(row[-1] for row in db.execute_sql(f"EXPLAIN QUERY PLAN {sql}", params))


@pytest.mark.parametrize(("chosen", "index", "sorted_in_memory"), [
    (review.TrailFilter(), "audit_entry_occurred_at", False),
    (review.TrailFilter(client_id=3), "audit_entry_client_id_occurred_at", False),
    (review.TrailFilter(actor_id=2), "audit_entry_actor_id_occurred_at", False),
    (review.TrailFilter(action="view"), "audit_entry_action_occurred_at", False),
    (review.TrailFilter(action="view", since=datetime(2020, 1, 1),
                        until=datetime(2024, 1, 1)), "audit_entry_action_occurred_at", False),
    (review.TrailFilter(since=datetime(2020, 1, 1), until=datetime(2020, 2, 1)),
     "audit_entry_occurred_at", False),
    (review.TrailFilter(object_type="guardian", object_id=4),
     "audit_entry_object_type_object_id", True),  # one object's entries: a short sort
    (review.TrailFilter(object_type="break_glass_grant"),  # a rare type: its own index
     "audit_entry_object_type_object_id", True),
    (review.TrailFilter(object_type="client"), "audit_entry_occurred_at", False),  # common
    (review.TrailFilter(outcome="denied"), "audit_entry_occurred_at", False),
    (review.TrailFilter(client_id=3, action="export", object_type="client"),
     "audit_entry_client_id_occurred_at", False),
    (review.TrailFilter(actor_id=2, since=datetime(2019, 1, 1)),
     "audit_entry_actor_id_occurred_at", False),
])
def test_every_filter_shape_uses_an_index(trail: dict[str, Any], chosen: review.TrailFilter,
                                          index: str, sorted_in_memory: bool,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """EXPLAIN QUERY PLAN for the first page and for a later page (keyset) of each shape.
    (A type counts as common from 500 entries here, so the seeded trail has both kinds.)"""
    monkeypatch.setattr(review, "SMALL_OBJECT_TYPE", 500)
    with db.connection_context():
        later = AuditEntry.select(AuditEntry.id).order_by(AuditEntry.id.desc()).scalar() - 500
        for query in (review.trail_query(chosen),
                      review._older_than(review.trail_query(chosen), later)):
            plan = plan_of(query.limit(review.PAGE_SIZE + 1))
            assert f"USING INDEX {index}" in plan, plan
            assert ("TEMP B-TREE" in plan) == sorted_in_memory, plan


def test_the_search_window_walks_an_index(trail: dict[str, Any]) -> None:
    """The bound of a page's slice for an unindexed filter is found on an index alone."""
    with db.connection_context():
        for indexed, index in (([], "audit_entry_occurred_at"),
                               ([AuditEntry.action == "view"], "audit_entry_action_occurred_at")):
            window = review._newest_first(AuditEntry.select(AuditEntry.occurred_at,
                                                            AuditEntry.id), indexed)
            plan = plan_of(window.offset(review.SEARCH_WINDOW - 1).limit(1))
            assert f"USING COVERING INDEX {index}" in plan, plan
            assert "TEMP B-TREE" not in plan


def test_the_reports_and_alerts_use_indexes(trail: dict[str, Any]) -> None:
    from webapp.audit import alerts

    now = datetime(2026, 1, 1)
    with db.connection_context():
        for query in (review.access_query(3, datetime(2020, 1, 1), now),
                      review.access_query(3, None, None).where(
                          AuditEntry.action.in_(review.DISCLOSURE_ACTIONS))):
            plan = plan_of(query)
            assert "USING INDEX audit_entry_client_id_occurred_at" in plan, plan
            assert "TEMP B-TREE" not in plan
        plan = plan_of(alerts._count_since("login_failed", now - timedelta(minutes=15), now))
        assert "USING COVERING INDEX audit_entry_action_occurred_at" in plan or \
            "USING INDEX audit_entry_action_occurred_at" in plan, plan
