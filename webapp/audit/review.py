"""Reading the trail: the console's filtered pages, exports, the per-client access report
and the accounting of disclosures.

    page = trail_page(TrailFilter(client_id=42), before=None)
    for row in export_rows(TrailFilter(action="view")): ...

Every query walks one of the audit indexes newest first and pages by keyset
(the last row's time and id), never by OFFSET, so page 2,000 of a million
entries costs what page 1 does. Reading here changes nothing; the views write
the audit entry for each look and each export (`record_review`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from peewee import Tuple

from webapp.audit.models import AuditEntry
from webapp.audit.service import record
from webapp.core.models import StaffUser

PAGE_SIZE = 50
EXPORT_BATCH = 1000
# An object type with fewer entries than this is found through its own index and
# sorted; a commoner one is found by walking the time index (no big sort).
SMALL_OBJECT_TYPE = 5000
# How many entries one page looks through for a filter no index narrows (outcome):
# about 80 ms at most, however rare the outcome in a trail of millions.
SEARCH_WINDOW = 50_000

# Actions that send a client's information out of the box. Later issues add theirs
# here (claims, releases of information). recipient type and purpose per action;
# an (action, object_type) key refines one kind of object.
DISCLOSURES: dict[str | tuple[str, str], tuple[str, str]] = {
    "export": ("Not recorded (downloaded by staff)", "Export"),
    "print": ("Not recorded (printed by staff)", "Printed copy"),
    "release": ("Requester named on the authorization", "Release of information"),
    "claim": ("Health plan (payer)", "Payment: insurance claim"),
    "disclosure": ("Not recorded", "Disclosure"),
}
DISCLOSURE_ACTIONS = tuple(sorted({key for key in DISCLOSURES if isinstance(key, str)}))
# The review pages' own entries: looking at the trail is not a disclosure of the record.
REVIEW_OBJECTS = ("audit_trail", "access_report", "disclosure_accounting")

# Offered in the viewer's action box; any other well-formed action can be typed.
KNOWN_ACTIONS = (
    "view", "search", "create", "update", "delete", "sign", "discharge", "reactivate",
    "assign", "unassign", "export", "print", "release", "claim", "disclosure", "download",
    "upload", "login", "logout", "login_failed", "login_throttled", "lockout", "unlock",
    "mfa", "reauth", "password_change", "permission_denied", "break_glass", "review",
    "config_change", "destroy", "mail_queued", "mail_send", "portal_invite",
    "portal_invite_revoke", "portal_enrol", "portal_link", "portal_choose",
)
OUTCOMES = ("success", "failure", "denied", "locked")
EXPORT_COLUMNS = ("id", "occurred_at_utc", "occurred_at_local", "actor_kind", "actor_id",
                  "actor_name", "actor_role", "action", "object_type", "object_id",
                  "client_id", "source_address", "request_id", "outcome")


@dataclass(frozen=True)
class TrailFilter:
    """What the admin narrowed the trail to. Times are UTC: `since` inclusive, `until` not."""

    actor_id: int | None = None  # a staff member
    client_id: int | None = None
    action: str = ""
    object_type: str = ""
    object_id: int | None = None
    outcome: str = ""
    since: datetime | None = None
    until: datetime | None = None

    def describe(self) -> dict[str, Any]:
        """The filter as plain values (for the JSON export and the page)."""
        return {name: (value.isoformat() + "Z" if isinstance(value, datetime) else value)
                for name, value in self.__dict__.items() if value not in (None, "")}


@dataclass(frozen=True)
class TrailPage:
    rows: list[AuditEntry]
    names: dict[int, StaffUser]  # the staff actors on this page, by id
    next_before: int | None  # the cursor for the next (older) page
    filter: TrailFilter = field(default_factory=TrailFilter)
    searched_to: datetime | None = None  # set when the page stopped at the search window


def local_day_bounds(first: date | None, last: date | None,
                     timezone: str) -> tuple[datetime | None, datetime | None]:
    """From the start of `first` to the end of `last`, practice time, as naive UTC."""
    zone = ZoneInfo(timezone)

    def utc_midnight(day: date) -> datetime:
        moment = datetime.combine(day, time(0), tzinfo=zone).astimezone(ZoneInfo("UTC"))
        return moment.replace(tzinfo=None)

    return (utc_midnight(first) if first else None,
            utc_midnight(last + timedelta(days=1)) if last else None)


def _is_small_object_type(object_type: str) -> bool:
    found = AuditEntry.select(AuditEntry.id).where(
        AuditEntry.object_type == object_type).limit(SMALL_OBJECT_TYPE)
    return int(found.count()) < SMALL_OBJECT_TYPE


def _conditions(chosen: TrailFilter) -> tuple[list[Any], list[Any]]:
    """The filter as (conditions an index serves, conditions checked row by row).

    Each shape of filter walks one index in time order: client, staff member or
    action with the time, else the time alone. Outcome has no index, and a common
    object type is better checked on a time-ordered walk than found and sorted.
    """
    indexed: list[Any] = []
    checked: list[Any] = []
    if chosen.client_id is not None:
        indexed.append(AuditEntry.client_id == chosen.client_id)
    if chosen.actor_id is not None:
        indexed.append(AuditEntry.actor_id == chosen.actor_id)
        indexed.append(AuditEntry.actor_kind == "staff")  # nearly every entry of a staff id
    if chosen.action:
        indexed.append(AuditEntry.action == chosen.action)
    if chosen.object_type:
        alone = chosen.client_id is None and chosen.actor_id is None and not chosen.action
        if chosen.object_id is not None or (alone and _is_small_object_type(chosen.object_type)):
            indexed.append(AuditEntry.object_type == chosen.object_type)
        else:
            # The same test written so the (object_type, object_id) index cannot serve
            # it: the planner then walks a time-ordered index instead of sorting
            # every entry of a common type.
            checked.append(AuditEntry.object_type.concat("") == chosen.object_type)
    if chosen.object_id is not None:
        indexed.append(AuditEntry.object_id == chosen.object_id)
    if chosen.outcome:
        checked.append(AuditEntry.outcome == chosen.outcome)
    if chosen.since is not None:
        indexed.append(AuditEntry.occurred_at >= chosen.since)
    if chosen.until is not None:
        indexed.append(AuditEntry.occurred_at < chosen.until)
    return indexed, checked


def _newest_first(query: Any, conditions: list[Any]) -> Any:
    for condition in conditions:
        query = query.where(condition)
    return query.order_by(AuditEntry.occurred_at.desc(), AuditEntry.id.desc())


def trail_query(chosen: TrailFilter) -> Any:
    """The filtered entries, newest first."""
    indexed, checked = _conditions(chosen)
    return _newest_first(AuditEntry.select(), indexed + checked)


def _older_than(query: Any, entry_id: int) -> Any:
    """Only the entries after `entry_id` in newest-first order (keyset paging)."""
    at = AuditEntry.select(AuditEntry.occurred_at).where(AuditEntry.id == entry_id).scalar()
    if at is None:
        raise LookupError(entry_id)
    return query.where(Tuple(AuditEntry.occurred_at, AuditEntry.id) < Tuple(at, entry_id))


def staff_names(ids: set[int]) -> dict[int, StaffUser]:
    if not ids:
        return {}
    return {user.id: user for user in StaffUser.select(
        StaffUser.id, StaffUser.username, StaffUser.full_name).where(StaffUser.id.in_(ids))}


def _staff_ids(rows: list[AuditEntry]) -> set[int]:
    return {row.actor_id for row in rows if row.actor_kind == "staff" and row.actor_id}


def trail_page(chosen: TrailFilter, before: int | None = None,
               size: int = PAGE_SIZE) -> TrailPage:
    """One page of the filtered trail, after the entry `before` (None: the newest).

    An unknown `before` raises LookupError. The page is stable: entries written
    while the admin reads (their own look included) land before page 1, never
    shifting the pages behind it. A filter the indexes cannot narrow (outcome, a
    common object type) looks through at most SEARCH_WINDOW entries per page; when
    those hold fewer matches than a page, the page says how far back it searched
    and its next page carries on from there.
    """
    indexed, checked = _conditions(chosen)
    query = _newest_first(AuditEntry.select(), indexed + checked)
    boundary = None
    if checked:
        window = _newest_first(AuditEntry.select(AuditEntry.occurred_at, AuditEntry.id),
                               indexed)
        if before is not None:
            window = _older_than(window, before)
        boundary = window.offset(SEARCH_WINDOW - 1).limit(1).first()
        if boundary is not None:
            # The slice's start as a plain time bound too, so the walk stops there.
            narrowed, _ = _conditions(replace(chosen, since=boundary.occurred_at))
            query = _newest_first(AuditEntry.select(), narrowed + checked).where(
                Tuple(AuditEntry.occurred_at, AuditEntry.id)
                >= Tuple(boundary.occurred_at, boundary.id))
    if before is not None:
        query = _older_than(query, before)
    rows = list(query.limit(size + 1))
    more = len(rows) > size
    rows = rows[:size]
    if more:
        return TrailPage(rows, staff_names(_staff_ids(rows)), rows[-1].id, chosen)
    if boundary is not None:  # the window ran out before the page filled
        return TrailPage(rows, staff_names(_staff_ids(rows)), boundary.id, chosen,
                         searched_to=boundary.occurred_at)
    return TrailPage(rows, staff_names(_staff_ids(rows)), None, chosen)


def _batches(query: Any) -> Iterator[list[AuditEntry]]:
    """The whole result of a newest-first query, a batch at a time, by keyset."""
    batch = list(query.limit(EXPORT_BATCH))
    while batch:
        yield batch
        if len(batch) < EXPORT_BATCH:
            return
        last = batch[-1]
        batch = list(query.where(Tuple(AuditEntry.occurred_at, AuditEntry.id)
                                 < Tuple(last.occurred_at, last.id)).limit(EXPORT_BATCH))


def export_rows(chosen: TrailFilter, timezone: str,
                below: int | None = None) -> Iterator[dict[str, Any]]:
    """Every entry the filter selects, newest first, as export rows (streamed); with
    `below`, only entries older than that one (the export's own entry), so the file is
    the trail as it stood when the export was asked for."""
    query = trail_query(chosen)
    if below is not None:
        query = query.where(AuditEntry.id < below)
    yield from _rows(query, timezone)


def _rows(query: Any, timezone: str) -> Iterator[dict[str, Any]]:
    zone = ZoneInfo(timezone)
    for batch in _batches(query):
        names = staff_names(_staff_ids(batch))
        for entry in batch:
            yield as_row(entry, names, zone)


def as_row(entry: AuditEntry, names: dict[int, StaffUser], zone: ZoneInfo) -> dict[str, Any]:
    at = entry.occurred_at
    actor = names.get(entry.actor_id or 0) if entry.actor_kind == "staff" else None
    return {
        "id": entry.id,
        "occurred_at_utc": at.isoformat() + "Z",
        "occurred_at_local": at.replace(tzinfo=ZoneInfo("UTC")).astimezone(zone).isoformat(),
        "actor_kind": entry.actor_kind,
        "actor_id": entry.actor_id,
        "actor_name": actor.full_name if actor else "",
        "actor_role": entry.actor_role,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "client_id": entry.client_id,
        "source_address": entry.source_address,
        "request_id": entry.request_id,
        "outcome": entry.outcome,
    }


# -- one client's report -----------------------------------------------------------------

def access_query(client_id: int, since: datetime | None, until: datetime | None) -> Any:
    """Everything anyone did with this client's record in the period, oldest first.

    The review pages' own entries (someone reading this report or the trail) are
    left out: they show ids, not the record, and stay in the trail itself.
    """
    query = AuditEntry.select().where((AuditEntry.client_id == client_id)
                                      & AuditEntry.object_type.not_in(REVIEW_OBJECTS))
    if since is not None:
        query = query.where(AuditEntry.occurred_at >= since)
    if until is not None:
        query = query.where(AuditEntry.occurred_at < until)
    return query.order_by(AuditEntry.occurred_at, AuditEntry.id)


def access_report(client_id: int, since: datetime | None,
                  until: datetime | None) -> tuple[list[AuditEntry], dict[int, StaffUser]]:
    rows = list(access_query(client_id, since, until))
    return rows, staff_names(_staff_ids(rows))


def access_rows(client_id: int, since: datetime | None, until: datetime | None,
                timezone: str) -> Iterator[dict[str, Any]]:
    """The access report as export rows, oldest first, read a batch at a time."""
    zone = ZoneInfo(timezone)
    last: tuple[datetime, int] | None = None
    while True:
        query = access_query(client_id, since, until)
        if last is not None:
            query = query.where(Tuple(AuditEntry.occurred_at, AuditEntry.id) > Tuple(*last))
        batch = list(query.limit(EXPORT_BATCH))
        names = staff_names(_staff_ids(batch))
        for entry in batch:
            yield as_row(entry, names, zone)
        if len(batch) < EXPORT_BATCH:
            return
        last = (batch[-1].occurred_at, batch[-1].id)


@dataclass(frozen=True)
class Disclosure:
    entry: AuditEntry
    recipient: str
    purpose: str


def disclosure_terms(action: str, object_type: str) -> tuple[str, str]:
    return DISCLOSURES.get((action, object_type)) or DISCLOSURES[action]


def disclosures(client_id: int, since: datetime | None,
                until: datetime | None) -> tuple[list[Disclosure], dict[int, StaffUser]]:
    """The accounting of disclosures: only the disclosure actions, oldest first."""
    query = access_query(client_id, since, until).where(
        AuditEntry.action.in_(DISCLOSURE_ACTIONS))
    found = [Disclosure(entry, *disclosure_terms(entry.action, entry.object_type))
             for entry in query]
    return found, staff_names(_staff_ids([item.entry for item in found]))


# -- the review is itself on the record --------------------------------------------------

def record_review(action: str, what: str, client_id: int | None = None) -> int:
    """One entry for a look at (or export of) the trail or a client's report; its id."""
    return record(action, object_type=what, client_id=client_id)


def actor_label(entry: AuditEntry, names: dict[int, StaffUser]) -> str:
    """Who acted, in words: a staff member's name, else the kind of actor and its id."""
    if entry.actor_kind == "staff":
        person = names.get(entry.actor_id or 0)
        return f"{person.full_name} ({person.username})" if person else f"Staff #{entry.actor_id}"
    if entry.actor_kind == "client":
        return f"Portal account #{entry.actor_id}"
    if entry.actor_kind == "system":
        return "Hearth (system)"
    return "Not signed in"
