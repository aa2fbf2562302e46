"""Whose calendar a staff member may see or change, and what of it.

Front desk, billers and admins see every clinician's calendar (front desk and admin
change it); a clinician sees and changes their own, a supervisor also their
supervisees'. Clinical content (billing codes) shows only to those who hold
`notes.view`; client names only for clients in the user's scope.
"""

from __future__ import annotations

from typing import Any

from webapp.access.service import (
    NotPermitted,
    caseload_query,
    require_permission,
    sees_all_clients,
    supervisee_ids,
)
from webapp.audit.service import record
from webapp.clients.models import Client


class CalendarDenied(NotPermitted):
    """Another clinician's calendar, outside this user's scope."""


def calendar_ids(user: Any) -> list[int] | None:
    """The clinicians whose calendars `user` may see; None: every clinician's."""
    if sees_all_clients(user):
        return None
    return [int(user.id), *supervisee_ids(user)]


def require_calendar(user: Any, clinician_id: int, edit: bool = False) -> None:
    require_permission(user, "schedule.edit" if edit else "schedule.view")
    allowed = calendar_ids(user)
    if allowed is not None and clinician_id not in allowed:
        record("permission_denied", object_type="schedule", object_id=clinician_id,
               outcome="denied")
        raise CalendarDenied("schedule")


def shows_clinical(user: Any) -> bool:
    return bool(user.can("notes.view"))


def visible_clients(user: Any, client_ids: set[int]) -> dict[int, str]:
    """Display names of the clients among `client_ids` that `user` may see: one query."""
    if not client_ids:
        return {}
    query = Client.select(Client.id, Client.preferred_name, Client.legal_first_name,
                          Client.legal_last_name).where(Client.id.in_(list(client_ids)))
    if not sees_all_clients(user):
        query = query.where(Client.id.in_(caseload_query(user)))
    return {client.id: client.display_name for client in query}
