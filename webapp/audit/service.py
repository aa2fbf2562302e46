"""The one way to write an audit entry.

    record("view", object_type="client", object_id=client.id, client_id=client.id)

The actor, role, source address and request id come from the request when
there is one; background tasks pass `actor_kind="system"`. Entries hold ids and
codes only. (The keyed hash chain over these entries is the audit issue's work.)
"""

from __future__ import annotations

from flask import g, has_request_context, request
from flask_login import current_user

from appliance.storage import Prepared
from webapp.audit.models import AuditEntry
from webapp.core.timeutil import utcnow


def record(action: str, *, object_type: str = "", object_id: int | None = None,
           client_id: int | None = None, outcome: str = "success",
           actor_kind: str | None = None, actor_id: int | None = None,
           actor_role: str | None = None) -> int:
    """Write one entry; returns its id."""
    source_address = ""
    request_id = ""
    if has_request_context():
        source_address = request.remote_addr or ""
        request_id = getattr(g, "request_id", "")
        if actor_kind is None and current_user.is_authenticated:
            actor_kind = current_user.actor_kind
            actor_id = current_user.id
            actor_role = ",".join(sorted(current_user.role_set))
    cursor = _INSERT.execute(utcnow(), actor_kind or "anonymous", actor_id, actor_role or "",
                             action, object_type, object_id, client_id, source_address,
                             request_id, outcome, "")
    return int(cursor.lastrowid)


# Every request writes at least one entry: compile the INSERT once per process.
_INSERT = Prepared(lambda *values: AuditEntry.insert(dict(zip(
    [AuditEntry.occurred_at, AuditEntry.actor_kind, AuditEntry.actor_id, AuditEntry.actor_role,
     AuditEntry.action, AuditEntry.object_type, AuditEntry.object_id, AuditEntry.client_id,
     AuditEntry.source_address, AuditEntry.request_id, AuditEntry.outcome, AuditEntry.mac],
    values, strict=True))))
