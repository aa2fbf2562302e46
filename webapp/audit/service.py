"""The one way to write an audit entry.

    record("view", object_type="client", object_id=client.id, client_id=client.id)

The actor, role, source address and request id come from the request when
there is one; background tasks pass `actor_kind="system"`. Entries hold ids and
codes only. (The keyed hash chain over these entries is the audit issue's work.)
"""

from __future__ import annotations

from flask import g, has_request_context, request
from flask_login import current_user

from webapp.audit.models import AuditEntry


def record(action: str, *, object_type: str = "", object_id: int | None = None,
           client_id: int | None = None, outcome: str = "success",
           actor_kind: str | None = None, actor_id: int | None = None,
           actor_role: str | None = None) -> AuditEntry:
    source_address = ""
    request_id = ""
    if has_request_context():
        source_address = request.remote_addr or ""
        request_id = getattr(g, "request_id", "")
        if actor_kind is None and current_user.is_authenticated:
            actor_kind = current_user.actor_kind
            actor_id = current_user.id
            actor_role = ",".join(sorted(current_user.role_set))
    return AuditEntry.create(
        actor_kind=actor_kind or "anonymous", actor_id=actor_id, actor_role=actor_role or "",
        action=action, object_type=object_type, object_id=object_id, client_id=client_id,
        source_address=source_address, request_id=request_id, outcome=outcome,
    )
