"""What in the trail needs an admin's eyes now: bursts of failed sign-ins or refusals,
break-glass use waiting for review, and an audit chain that failed or went unchecked.

    for alert in current_alerts(settings.layout): print(alert.message)

Shown on the console's dashboard and by `hearth check` (a warning, never a
failure: the box still works). Every threshold is in THRESHOLDS. Messages name
staff, never clients; an account that failed to sign in is named by id only,
since a portal username is often a client's e-mail address.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from peewee import fn

from appliance.paths import Layout
from webapp.access.service import pending_reviews
from webapp.audit.models import AuditEntry
from webapp.audit.review import staff_names
from webapp.core.timeutil import utcnow


@dataclass(frozen=True)
class Thresholds:
    failed_sign_ins: int = 20  # failed sign-ins, all accounts together, within...
    failed_sign_ins_per_account: int = 5  # ... or for one account, within...
    failed_sign_in_window: timedelta = timedelta(minutes=15)
    refusals_per_user: int = 10  # permission_denied entries for one person, within...
    refusal_window: timedelta = timedelta(hours=1)
    break_glass_window: timedelta = timedelta(days=7)  # unreviewed uses this recent
    verification_max_age: timedelta = timedelta(days=7)  # the chain checked this recently


THRESHOLDS = Thresholds()


@dataclass(frozen=True)
class Alert:
    kind: str  # failed_sign_ins, refusals, break_glass, audit_verification
    message: str
    endpoint: str  # the console page where the admin looks into it
    args: tuple[tuple[str, Any], ...] = ()  # that page's query (ids and codes only)


@dataclass(frozen=True)
class Verification:
    """The last `hearth audit verify`, as the console shows it."""

    ok: bool
    at: datetime | None  # naive UTC
    entries: int | None
    first_broken_id: int | None


def last_verification(layout: Layout) -> Verification | None:
    """The chain's record of its last verification (webapp.audit.checkpoints), or None."""
    from webapp.audit.checkpoints import last_verification as recorded

    result = recorded(layout)
    if result is None:
        return None
    entries, broken = result.get("entries"), result.get("first_broken_id")
    return Verification(ok=bool(result.get("ok")), at=_utc(result.get("verified_at")),
                        entries=entries if isinstance(entries, int) else None,
                        first_broken_id=broken if isinstance(broken, int) else None)


def _utc(value: Any) -> datetime | None:
    """An ISO time from the record as naive UTC; None if missing or unreadable."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.removesuffix("Z"))
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def current_alerts(layout: Layout, now: datetime | None = None,
                   limits: Thresholds = THRESHOLDS) -> list[Alert]:
    now = now or utcnow()
    return [*failed_sign_in_alerts(now, limits), *refusal_alerts(now, limits),
            *break_glass_alerts(now, limits),
            *verification_alerts(last_verification(layout), now, limits)]


def _count_since(action: str, since: datetime, now: datetime) -> Any:
    """Entries of `action` in the window, through the (action, occurred_at) index."""
    return AuditEntry.select().where((AuditEntry.action == action)
                                     & (AuditEntry.occurred_at >= since)
                                     & (AuditEntry.occurred_at <= now))


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def failed_sign_in_alerts(now: datetime, limits: Thresholds = THRESHOLDS) -> list[Alert]:
    window = limits.failed_sign_in_window
    minutes = int(window.total_seconds() // 60)
    failed = _count_since("login_failed", now - window, now)
    alerts = []
    total = int(failed.count())
    if total >= limits.failed_sign_ins:
        alerts.append(Alert("failed_sign_ins", f"{_plural(total, 'failed sign-in')} in the last "
                            f"{minutes} minutes, across all accounts.", "admin_audit.index",
                            (("action", "login_failed"),)))
    per_account = failed.select(AuditEntry.object_type, AuditEntry.object_id,
                                fn.COUNT(AuditEntry.id).alias("n")).where(
        AuditEntry.object_id.is_null(False)).group_by(
        AuditEntry.object_type, AuditEntry.object_id).having(
        fn.COUNT(AuditEntry.id) >= limits.failed_sign_ins_per_account).order_by(
        AuditEntry.object_id)
    for row in per_account:
        alerts.append(Alert("failed_sign_ins", f"{_plural(row.n, 'failed sign-in')} for account "
                            f"#{row.object_id} in the last {minutes} minutes.",
                            "admin_audit.index", (("action", "login_failed"),
                                                  ("object_type", row.object_type),
                                                  ("object_id", row.object_id))))
    return alerts


def refusal_alerts(now: datetime, limits: Thresholds = THRESHOLDS) -> list[Alert]:
    denied = _count_since("permission_denied", now - limits.refusal_window, now).select(
        AuditEntry.actor_kind, AuditEntry.actor_id,
        fn.COUNT(AuditEntry.id).alias("n")).where(AuditEntry.actor_id.is_null(False)).group_by(
        AuditEntry.actor_kind, AuditEntry.actor_id).having(
        fn.COUNT(AuditEntry.id) >= limits.refusals_per_user).order_by(AuditEntry.actor_id)
    rows = list(denied)
    names = staff_names({row.actor_id for row in rows if row.actor_kind == "staff"})
    hours = int(limits.refusal_window.total_seconds() // 3600)
    period = "hour" if hours == 1 else f"{hours} hours"
    alerts = []
    for row in rows:
        person = names.get(row.actor_id) if row.actor_kind == "staff" else None
        who = (f"{person.full_name} ({person.username})" if person
               else f"{row.actor_kind} account #{row.actor_id}")
        args: tuple[tuple[str, Any], ...] = (("action", "permission_denied"),)
        if person:
            args += (("user", person.username),)
        alerts.append(Alert("refusals", f"{who} was refused {_plural(row.n, 'time')} in the "
                            f"last {period}.", "admin_audit.index", args))
    return alerts


def break_glass_alerts(now: datetime, limits: Thresholds = THRESHOLDS) -> list[Alert]:
    recent = [grant for grant in pending_reviews()
              if grant.started_at >= now - limits.break_glass_window]
    if not recent:
        return []
    days = limits.break_glass_window.days
    count = len(recent)
    return [Alert("break_glass", f"{count} break-glass access{'es' if count > 1 else ''} "
                  f"waiting for review, used in the last {days} days.",
                  "admin_break_glass.index")]


def verification_alerts(result: Verification | None, now: datetime,
                        limits: Thresholds = THRESHOLDS) -> list[Alert]:
    """A failed last verification, or none recent enough while the trail is older than
    the allowed gap (a new box is not yet expected to have run one)."""
    days = limits.verification_max_age.days
    if result is None:
        oldest = AuditEntry.select(fn.MIN(AuditEntry.occurred_at)).scalar()
        if oldest is not None and oldest < now - limits.verification_max_age:
            return [Alert("audit_verification", "The audit trail has never been verified: "
                          "run `hearth audit verify`.", "admin_audit.index")]
        return []
    if not result.ok:
        where = f" at entry #{result.first_broken_id}" if result.first_broken_id else ""
        return [Alert("audit_verification", f"The last audit verification found the trail "
                      f"altered{where}.", "admin_audit.index")]
    if result.at is None or result.at < now - limits.verification_max_age:
        return [Alert("audit_verification", f"The audit trail has not been verified in the "
                      f"last {days} days: run `hearth audit verify`.", "admin_audit.index")]
    return []
