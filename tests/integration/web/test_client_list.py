"""The client list: search, order, paging, audit, PHI kept out of URLs, query counts."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from playhouse.test_utils import count_queries

from appliance import storage
from tests.conftest import make_staff
from tests.integration.web.conftest import (
    POLICY,
    SETUP_DESK,
    add_caseload_client,
    audit_entries,
    bulk_clients,
    client_count,
    client_entries,
    form,
    links_on,
    listed,
    onto_caseload,
    post_form,
    search_list,
    text_of,
)
from webapp.clients import related_service
from webapp.clients.models import Client, ClinicianAssignment, Guardian, InsurancePolicy
from webapp.clients.service import PAGE_SIZE, fold, search_clients

# -- search and the list ------------------------------------------------------

def add_searchable_clients() -> dict[str, int]:
    people = {
        "jose": add_caseload_client("José", "Álvarez", date(1985, 3, 14)),
        "josefina": add_caseload_client("Josefina", "Smith", date(1990, 1, 1)),
        "mark": add_caseload_client("Mark", "Alvarado", date(1985, 3, 14), legal_middle_name="Jo"),
        "kim": add_caseload_client("Kim", "Lee", date(2001, 9, 9), preferred_name="K_J"),
        "zoe": add_caseload_client("Zoë", "Zimmer", date(1985, 3, 15)),
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
    onto_caseload("jchen")
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
    ids = {last + first: add_caseload_client(first, last, date(1980, 1, 1 + i)).id
           for i, (first, last) in enumerate(names)}
    shown = listed(clinician_client.get("/clients/"))
    assert shown.index(ids["ÁlvarezJosé"]) == 1
    assert shown.index(ids["AdamsAnn"]) == 0
    assert shown.index(ids["ZimmerZed"]) == len(shown) - 1
    assert shown.index(ids["OakesAl"]) < shown.index(ids["ÖstbergBo"])


def test_the_list_pages_through_many_clients(clinician_client: FlaskClient) -> None:
    """With 120 clients, are there pages of 50, 50 and 20 with working next/previous links?"""
    bulk_clients(120)
    onto_caseload("jchen")
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
    client = add_caseload_client("Ana", "Ortega")
    for page in ("0", "-1", "abc", "²", "\u0661", "99999999999999999999", ""):
        response = clinician_client.get("/clients/", query_string={"page": page})
        assert response.status_code == 200, page
        assert listed(response) == ([client.id] if page in ("0", "-1", "abc", "²", "\u0661", "")
                                    else []), page


def test_an_unknown_status_filter_shows_everyone(clinician_client: FlaskClient) -> None:
    """Is a made-up status treated as 'all' rather than an error?"""
    client = add_caseload_client("Ana", "Ortega")
    assert listed(clinician_client.get("/clients/?status=<script>")) == [client.id]


# -- audit and PHI in URLs ----------------------------------------------------

def test_viewing_a_client_writes_a_view_entry(clinician_client: FlaskClient) -> None:
    """Does opening a client's page record who viewed which client?"""
    client = add_caseload_client("Ana", "Ortega")
    clinician_client.get(f"/clients/{client.id}")
    [entry] = client_entries("view")
    assert (entry.object_id, entry.client_id, entry.actor_kind, entry.actor_role) == \
        (client.id, client.id, "staff", "clinician")
    assert entry.actor_id is not None and entry.outcome == "success"


def test_no_client_name_in_any_link(clinician_client: FlaskClient) -> None:
    """Do the list, client page and forms keep every name out of the URLs they link to?"""
    response = post_form(clinician_client, "/clients/new", form())
    client = Client.get()
    minor = add_caseload_client("Quincy", "Marlowe", date(2015, 1, 1))
    related_service.add_guardian(SETUP_DESK, minor.id, {"full_name": "Rosalind Marlowe",
                                            "relationship": "parent", "phone": "5185550123"})
    related_service.save_policy(SETUP_DESK, client.id, {**POLICY, "effective_on": None})
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
        ("create", "client", client_id),
        ("assign", "clinician_assignment", client_id),  # the clinician who added the client
        ("update", "client", client_id),
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
    small = add_caseload_client("Ana", "Ortega", date(2015, 1, 1))
    large = add_caseload_client("Bea", "Ortiz", date(2015, 1, 1))
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
    # 12 today: session, user, client, scope, audit, staff; the notes: scope, list, audit;
    # three related lists.
    assert many <= 12
    page = text_of(clinician_client.get(f"/clients/{large.id}"))
    assert all(f"Guardian {i}" in page for i in range(6))
    assert all(f"Clinician {i}" in page for i in range(4))


def test_the_list_page_runs_a_fixed_number_of_queries(clinician_client: FlaskClient) -> None:
    """Does the list cost the same number of queries for 3 clients as for a full page?"""
    bulk_clients(3, last="Aardvark")
    onto_caseload("jchen")
    few = _queries_for(clinician_client, "/clients/")
    bulk_clients(100)
    onto_caseload("jchen")
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
        result = search_clients(SETUP_DESK, "ÁLVAREZ07", status="all", page=page)
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
    [zoe] = search_clients(SETUP_DESK, "zoe alvarez074").rows
    assert (zoe["legal_first_name"], zoe["legal_last_name"]) == ("Zoë", "Álvarez074")
    assert search_clients(SETUP_DESK, "%").rows == [] and search_clients(SETUP_DESK, "_").rows == []
    assert search_clients(SETUP_DESK, "01/01/1980").has_next

    # The search reads the folded search_text column through its index, whatever the filter.
    for status in ("all", "active", "discharged"):
        with count_queries() as counter:
            search_clients(SETUP_DESK, "alvarez07 zo", status=status)
        sql, params = next(q.msg for q in counter.get_queries()
                           if q.msg[0].startswith("SELECT") and "LIKE" in q.msg[0])
        assert sql.count('"search_text" LIKE') == 2
        plan = " ".join(row[3] for row in
                        storage.db.execute_sql(f"EXPLAIN QUERY PLAN {sql}", params).fetchall())
        assert "USING COVERING INDEX client_search_text" in plan, plan
