"""Client records: the only code that changes them, and each change writes its audit entry.

    client = create_client(user, values, today)          # raises PossibleDuplicate, InvalidClient
    page = search_clients(user, "ann", status="active")  # fragment of any name, or a birth date

Every entry point takes the acting user and checks scope here, not only in the
views (`webapp.access.service`): a clinician's list and search hold their
caseload (and their supervisees'), and opening a client outside it raises
AccessDenied, which the page turns into the break-glass form.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from appliance.storage import Prepared, db
from webapp.access.service import (
    Access,
    access_to,
    caseload_exceeds,
    caseload_ids,
    on_caseload,
    require_access,
    require_permission,
    sees_all_clients,
    supervisor_key,
)
from webapp.audit.service import record
from webapp.clients.models import STATUSES, Client, ClinicianAssignment, Guardian, InsurancePolicy
from webapp.clients.validation import (  # noqa: F401 (the rules are part of this service's API)
    CLIENT_FIELDS,
    EMAIL,
    InvalidClient,
    age_on,
    clean_client_values,
    fold,
    normalize_phone,
    search_text_for,
    sort_name_for,
)
from webapp.core.models import StaffUser
from webapp.core.timeutil import utcnow
from webapp.revisions.service import record_revision, snapshot_of

PAGE_SIZE = 50
ADULT_AGE = 18

GUARDIAN_FIELDS = ("full_name", "relationship", "phone", "email", "has_legal_authority")
POLICY_FIELDS = (
    "rank", "payer_name", "payer_id", "member_id", "group_number", "subscriber_relationship",
    "subscriber_first_name", "subscriber_last_name", "subscriber_date_of_birth",
    "effective_on", "ends_on",
)


class PossibleDuplicate(Exception):
    def __init__(self, matches: list[Client]) -> None:
        super().__init__(f"{len(matches)} client(s) with the same name and date of birth")
        self.matches = matches


class ClientNotFound(LookupError):
    pass


# -- reading ------------------------------------------------------------------

@dataclass(frozen=True)
class ClientPage:
    rows: list[dict[str, Any]]
    page: int
    has_next: bool
    query: str
    status: str


DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%m-%d-%Y")


def parse_date_query(query: str) -> date | None:
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(query, fmt).date()
        except ValueError:
            continue
    return None


LIST_COLUMNS = (Client.id, Client.legal_first_name, Client.legal_last_name,
                Client.preferred_name, Client.pronouns, Client.date_of_birth, Client.status,
                Client.mobile_phone)


# The list as most people see it (a status, no search): the hottest query in the app.
_LIST_PAGE = Prepared(lambda status, limit, offset: Client.select(*LIST_COLUMNS)
                      .where(Client.status == status).order_by(Client.sort_name, Client.id)
                      .limit(limit).offset(offset).dicts())
# The same for a clinician or supervisor: their caseload and their supervisees'. Separate
# queries, so the unscoped list above stays as lean as it was. A usual caseload (tens to a
# few hundred clients) is collected first, then sorted; a very large one (a supervisor of
# several clinicians in a big practice) is cheaper to find by walking the sorted list and
# probing each client's assignments, which stops after one page.
LARGE_CASELOAD = 500
_CASELOAD_PAGE = Prepared(
    lambda status, clinician_id, supervisor_id, limit, offset: Client.select(*LIST_COLUMNS)
    .where((Client.status == status) & Client.id.in_(caseload_ids(clinician_id, supervisor_id)))
    .order_by(Client.sort_name, Client.id).limit(limit).offset(offset).dicts())
_LARGE_CASELOAD_PAGE = Prepared(
    lambda status, clinician_id, supervisor_id, limit, offset: Client.select(*LIST_COLUMNS)
    .where((Client.status == status) & on_caseload(Client.id, clinician_id, supervisor_id))
    .order_by(Client.sort_name, Client.id).limit(limit).offset(offset).dicts())


def search_clients(user: Any, query: str = "", status: str = "active",
                   page: int = 1) -> ClientPage:
    """One page of the clients `user` may see, by name fragment(s) or date of birth,
    sorted by last name. Admin, biller and front desk see every client."""
    query = query.strip()[:100]
    page = max(1, min(page, 10_000))
    scoped = not sees_all_clients(user)
    select = Client.select(*LIST_COLUMNS)
    if scoped:
        select = select.where(Client.id.in_(caseload_ids(user.id, supervisor_key(user))))
    if status in STATUSES:
        select = select.where(Client.status == status)
    else:
        status = "all"
    birth_date = parse_date_query(query)
    if birth_date is not None:
        select = select.where(Client.date_of_birth == birth_date)
    elif tokens := fold(query).split()[:5]:
        # Match ids on the narrow search_text index alone, then read only those rows:
        # a '%fragment%' pattern can only scan, and the index is far cheaper to scan.
        matching = Client.select(Client.id)
        for token in tokens:
            matching = matching.where(Client.search_text.contains(token))  # % and _ escaped
        select = select.where(Client.id.in_(matching))
    rows: list[dict[str, Any]]
    if not query and status != "all" and scoped:
        prepared = _LARGE_CASELOAD_PAGE if caseload_exceeds(user, LARGE_CASELOAD) else \
            _CASELOAD_PAGE
        rows = list(prepared.run(status, user.id, supervisor_key(user), PAGE_SIZE + 1,
                                 (page - 1) * PAGE_SIZE))
    elif not query and status != "all":
        rows = list(_LIST_PAGE.run(status, PAGE_SIZE + 1, (page - 1) * PAGE_SIZE))
    else:
        ordered = select.order_by(Client.sort_name, Client.id)
        rows = list(ordered.limit(PAGE_SIZE + 1).offset((page - 1) * PAGE_SIZE)
                    .dicts())  # type: ignore[arg-type]
    # The list shows names and birth dates: a read of PHI, recorded like any other.
    record("search" if query else "view", object_type="client_list")
    return ClientPage(rows=rows[:PAGE_SIZE], page=page, has_next=len(rows) > PAGE_SIZE,
                      query=query, status=status)


def open_client(user: Any, client_id: int, audit: bool = True) -> tuple[Client, Access]:
    """The client and what `user` may see of them.

    A missing id raises ClientNotFound; an existing client outside the user's
    scope raises AccessDenied (audited). So a clinician probing ids learns only
    that an id exists, which the break-glass page says anyway.
    """
    client = Client.get_or_none(Client.id == client_id)
    if client is None:
        raise ClientNotFound(client_id)
    if getattr(user, "actor_kind", "") == "client":
        access = _portal_access(user, client.id)
    else:
        access = require_access(user, client.id)
    if audit:
        record("view", object_type="client", object_id=client.id, client_id=client.id)
    return client, access


def get_client(user: Any, client_id: int, audit: bool = True) -> Client:
    return open_client(user, client_id, audit)[0]


def _portal_access(account: Any, client_id: int) -> Access:
    """A portal account sees the client it belongs to and the minors it is linked to."""
    from webapp.portal.models import PortalLink

    if account.client_id != client_id and not PortalLink.select().where(
            (PortalLink.account == account.id) & (PortalLink.client == client_id)).exists():
        raise ClientNotFound(client_id)  # to a client, another client does not exist
    return Access(client="portal", clinical=None, grant=None)


def access_for(user: Any, client_id: int) -> Access:
    """What `user` may see of a client, without opening it (no audit entry)."""
    return access_to(user, client_id)


def client_overview(client: Client) -> dict[str, Any]:
    """Everything the client page shows, in a fixed, small number of queries."""
    clinicians = list(StaffUser.select(StaffUser, ClinicianAssignment.is_primary.alias("primary"))
                      .join(ClinicianAssignment)
                      .where(ClinicianAssignment.client == client.id)
                      .order_by(ClinicianAssignment.is_primary.desc(), StaffUser.full_name)
                      .objects())
    return {
        "guardians": list(Guardian.select().where(Guardian.client == client.id)
                          .order_by(Guardian.id)),
        "policies": list(InsurancePolicy.select().where(InsurancePolicy.client == client.id)
                         .order_by(InsurancePolicy.rank, InsurancePolicy.id)),
        "clinicians": clinicians,
    }


def possible_duplicates(first: str, last: str, dob: date,
                        exclude: int | None = None) -> list[Client]:
    """Same legal first and last name (ignoring case and accents) and same birth date."""
    candidates = Client.select().where(Client.date_of_birth == dob)
    if exclude is not None:
        candidates = candidates.where(Client.id != exclude)
    return [c for c in candidates
            if fold(c.legal_first_name) == fold(first) and fold(c.legal_last_name) == fold(last)]


def clinicians() -> list[StaffUser]:
    return [user for user in StaffUser.select().where(StaffUser.is_active == True)  # noqa: E712
            .order_by(StaffUser.full_name)
            if user.role_set & {"clinician", "supervisor"}]


# -- changing -----------------------------------------------------------------

def visible_duplicates(user: Any, matches: list[Client]) -> tuple[list[Client], int]:
    """The possible duplicates `user` may open, and how many more are outside their scope
    (named nowhere: the person typing already knows the name and birth date)."""
    visible = [match for match in matches if access_to(user, match.id).client]
    return visible, len(matches) - len(visible)


def create_client(user: Any, values: dict[str, Any], today: date,
                  allow_duplicate: bool = False) -> Client:
    """A new client. A clinician who adds one (without an all-clients role) becomes
    their primary clinician, so the client is on their caseload from the start."""
    require_permission(user, "clients.edit")
    clean = clean_client_values(values, today)
    with db.atomic():
        if not allow_duplicate:
            matches = possible_duplicates(clean["legal_first_name"], clean["legal_last_name"],
                                          clean["date_of_birth"])
            if matches:
                raise PossibleDuplicate(matches)
        client = Client(**clean)
        client.search_text = search_text_for(client)
        client.sort_name = sort_name_for(client)
        client.save()
        record("create", object_type="client", object_id=client.id, client_id=client.id)
        record_revision(client, user)
        if user.role_set & {"clinician", "supervisor"} and not sees_all_clients(user):
            assignment = ClinicianAssignment.create(client=client, clinician=user.id,
                                                    is_primary=True)
            record("assign", object_type="clinician_assignment", object_id=assignment.id,
                   client_id=client.id)
    return client


def update_client(user: Any, client_id: int, values: dict[str, Any], today: date,
                  allow_duplicate: bool = False) -> Client:
    require_permission(user, "clients.edit")
    client = get_client(user, client_id, audit=False)  # scope first, then the input
    clean = clean_client_values(values, today)
    with db.atomic():
        if not allow_duplicate:
            matches = possible_duplicates(clean["legal_first_name"], clean["legal_last_name"],
                                          clean["date_of_birth"], exclude=client.id)
            if matches:
                raise PossibleDuplicate(matches)
        before = snapshot_of(client)
        for name, value in clean.items():
            setattr(client, name, value)
        client.search_text = search_text_for(client)
        client.sort_name = sort_name_for(client)
        client.updated_at = utcnow()
        client.save()
        record("update", object_type="client", object_id=client.id, client_id=client.id)
        record_revision(client, user, before)
    return client


def discharge_client(user: Any, client_id: int, on: date, reason: str) -> Client:
    require_permission(user, "clients.discharge")
    get_client(user, client_id, audit=False)  # outside the transaction: a refusal is audited
    reason = reason.strip()
    if not reason:
        raise InvalidClient({"reason": "Say why the client is being discharged."})
    if len(reason) > 200:
        raise InvalidClient({"reason": "Too long (200 characters at most)."})
    with db.atomic():
        client = get_client(user, client_id, audit=False)
        if client.status == "discharged":
            raise InvalidClient({"status": "This client is already discharged."})
        before = snapshot_of(client)
        client.status, client.discharged_on, client.discharge_reason = "discharged", on, reason
        client.updated_at = utcnow()
        client.save()
        record("discharge", object_type="client", object_id=client.id, client_id=client.id)
        record_revision(client, user, before)
    return client


def reactivate_client(user: Any, client_id: int) -> Client:
    require_permission(user, "clients.discharge")
    get_client(user, client_id, audit=False)  # outside the transaction: a refusal is audited
    with db.atomic():
        client = get_client(user, client_id, audit=False)
        if client.status == "active":
            raise InvalidClient({"status": "This client is already active."})
        before = snapshot_of(client)
        client.status, client.discharged_on, client.discharge_reason = "active", None, ""
        client.updated_at = utcnow()
        client.save()
        record("reactivate", object_type="client", object_id=client.id, client_id=client.id)
        record_revision(client, user, before)
    return client
