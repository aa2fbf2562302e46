"""The one way to write an audit entry.

    record("view", object_type="client", object_id=client.id, client_id=client.id)

The actor, role, source address and request id come from the request when
there is one; background tasks pass `actor_kind="system"`. Entries hold ids and
codes only. Each entry is sealed into the keyed hash chain as it is written
(webapp.audit.chain); without the audit key nothing is written and the caller fails.
"""

from __future__ import annotations

from flask import g, has_request_context, request
from flask_login import current_user

from webapp.audit import chain
from webapp.core.timeutil import utcnow


def record(action: str, *, object_type: str = "", object_id: int | None = None,
           client_id: int | None = None, outcome: str = "success",
           actor_kind: str | None = None, actor_id: int | None = None,
           actor_role: str | None = None) -> int:
    """Write one sealed entry; returns its id."""
    source_address = ""
    request_id = ""
    if has_request_context():
        source_address = request.remote_addr or ""
        request_id = getattr(g, "request_id", "")
        if actor_kind is None and current_user.is_authenticated:
            actor_kind = current_user.actor_kind
            actor_id = current_user.id
            actor_role = ",".join(sorted(current_user.role_set))
    # The mac covers the values as SQLite stores them: text as text, ids as integers.
    return chain.append((
        str(utcnow()), str(actor_kind or "anonymous"), _id(actor_id), str(actor_role or ""),
        str(action), str(object_type), _id(object_id), _id(client_id), str(source_address),
        str(request_id), str(outcome)))


def _id(value: int | None) -> int | None:
    return None if value is None else int(value)
