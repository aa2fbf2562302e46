"""Record revisions: every change to a record kept as an immutable version.

    before = snapshot_of(client)            # before changing a record that may predate revisions
    ... change and save ...
    record_revision(client, user, before)   # inside the same transaction as the change

Any peewee model can use it. A version holds the whole record (`snapshot`,
canonical JSON of every field), what changed since the previous version
(`changes`: field -> [before, after]) and a SHA-256 of the snapshot, so an
edited snapshot is found by `verify_revisions`. Rows are only ever inserted.

Records that existed before revisions were kept (migration 6) get their history
at their first recorded change: the state just before it becomes version 1
(marked `actor_kind="baseline"`: nobody is known to have made it) and the change
version 2. A new record starts at version 1 with no changes.

The revision itself writes no audit entry: the change it belongs to is audited
by its own service, and reading a history is audited here.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import peewee

from appliance.storage import db
from webapp.audit.service import record
from webapp.core.timeutil import utcnow
from webapp.revisions.models import Revision

BASELINE = "baseline"  # actor_kind of a version 1 recorded from a record's earlier state
# Fields that change on every save: a save that changes nothing else is not a new version.
BOOKKEEPING = frozenset({"updated_at"})


class RevisionError(ValueError):
    pass


def _plain(value: Any) -> Any:
    """A field's value as JSON can hold it, the same way every time."""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return hashlib.sha256(bytes(value)).hexdigest()  # content stands in by its hash
    return value


def snapshot_of(instance: peewee.Model) -> dict[str, Any]:
    """Every field of the record (foreign keys as ids), as plain JSON values."""
    data = instance.__data__
    return {field.name: _plain(data.get(field.name)) for field in instance._meta.sorted_fields}


def canonical(snapshot: dict[str, Any]) -> str:
    """Sorted keys, no spaces, UTF-8 kept: one text per content, so one hash."""
    return json.dumps(snapshot, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def differences(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    names = sorted(set(before) | set(after))
    return {name: [before.get(name), after.get(name)] for name in names
            if before.get(name) != after.get(name)}


def object_type_of(instance: peewee.Model) -> str:
    return str(instance._meta.table_name)


def _actor(actor: Any) -> tuple[str, int | None]:
    if actor is None:
        return "system", None
    return str(getattr(actor, "actor_kind", "staff")), (int(actor.id) if actor.id else None)


def latest(object_type: str, object_id: int) -> Revision | None:
    return (Revision.select().where((Revision.object_type == object_type)
                                    & (Revision.object_id == object_id))
            .order_by(Revision.version.desc()).first())


def _insert(object_type: str, object_id: int, version: int, kind: str, actor_id: int | None,
            snapshot: dict[str, Any], changes: dict[str, list[Any]]) -> Revision:
    text = canonical(snapshot)
    return Revision.create(object_type=object_type, object_id=object_id, version=version,
                           actor_kind=kind, actor_id=actor_id, created_at=utcnow(),
                           snapshot=text, changes=canonical(changes),
                           content_hash=content_hash(text))


def record_revision(instance: peewee.Model, actor: Any,
                    before: dict[str, Any] | None = None) -> Revision | None:
    """Store the record's current state as its next version; call it after saving, inside
    the change's transaction. `before` (from `snapshot_of`, taken before the change) lets a
    record with no history yet keep the state it had as version 1.

    Returns None when nothing but bookkeeping fields changed since the last version.
    """
    if instance.get_id() is None:
        raise RevisionError("save the record before recording a revision of it")
    object_type, object_id = object_type_of(instance), int(instance.get_id())
    after = snapshot_of(instance)
    kind, actor_id = _actor(actor)
    with db.atomic():
        previous = latest(object_type, object_id)
        if previous is None and before is not None and differences(before, after):
            previous = _insert(object_type, object_id, 1, BASELINE, None, before, {})
        if previous is None:
            return _insert(object_type, object_id, 1, kind, actor_id, after, {})
        changes = differences(json.loads(previous.snapshot), after)
        if not set(changes) - BOOKKEEPING:
            return None
        return _insert(object_type, object_id, previous.version + 1, kind, actor_id, after,
                       changes)


# -- reading ------------------------------------------------------------------

@dataclass(frozen=True)
class Version:
    """One version as a history page shows it."""

    version: int
    created_at: datetime
    actor_kind: str
    actor_id: int | None
    snapshot: dict[str, Any]
    changes: dict[str, list[Any]]
    content_hash: str
    intact: bool  # the stored snapshot still matches its hash


def history(object_type: str, object_id: int) -> list[Version]:
    """Every version of one record, newest first. Callers check access and audit the read."""
    rows = (Revision.select().where((Revision.object_type == object_type)
                                    & (Revision.object_id == object_id))
            .order_by(Revision.version.desc()))
    return [Version(row.version, row.created_at, row.actor_kind, row.actor_id,
                    json.loads(row.snapshot), json.loads(row.changes), row.content_hash,
                    content_hash(row.snapshot) == row.content_hash)
            for row in rows]


def client_history(user: Any, client_id: int) -> tuple[Any, Any, list[Version]]:
    """The client, the user's access and the client's versions, for someone who may open
    the client's page (the same record-level check: `ClientNotFound`, or `AccessDenied`,
    audited). The read is audited."""
    from webapp.clients import service as clients_service

    client, access = clients_service.open_client(user, client_id, audit=False)
    versions = history("client", client.id)
    record("view", object_type="client_history", object_id=client.id, client_id=client.id)
    return client, access, versions


# -- checking -----------------------------------------------------------------

@dataclass(frozen=True)
class Mismatch:
    revision_id: int | None
    object_type: str
    object_id: int
    version: int
    problem: str


def verify_revisions(object_type: str | None = None) -> list[Mismatch]:
    """Every version whose snapshot no longer matches its hash, whose recorded changes
    disagree with the snapshots either side, or that is missing from its sequence.

    The hash is unkeyed: someone who rewrites a snapshot and its hash and its changes
    together is caught by the audit trail (which records each change), not here.
    """
    query = Revision.select().order_by(Revision.object_type, Revision.object_id,
                                       Revision.version)
    if object_type is not None:
        query = query.where(Revision.object_type == object_type)
    found: list[Mismatch] = []
    key: tuple[str, int] | None = None
    previous: dict[str, Any] | None = None
    expected = 1
    for row in query.iterator():
        if (row.object_type, row.object_id) != key:
            key, previous, expected = (row.object_type, row.object_id), None, 1
        where = (row.id, row.object_type, row.object_id, row.version)
        if row.version != expected:
            found.append(Mismatch(None, row.object_type, row.object_id, expected,
                                  f"versions {expected} to {row.version - 1} are missing"))
            previous = None  # nothing to compare the changes with
        if content_hash(row.snapshot) != row.content_hash:
            found.append(Mismatch(*where, "the snapshot does not match its content hash"))
        try:
            snapshot = json.loads(row.snapshot)
            changes = json.loads(row.changes)
        except ValueError:
            found.append(Mismatch(*where, "the snapshot or changes are not valid JSON"))
            previous, expected = None, row.version + 1
            continue
        if previous is not None and differences(previous, snapshot) != changes:
            found.append(Mismatch(*where, "the recorded changes disagree with the snapshots"))
        previous, expected = snapshot, row.version + 1
    return found
