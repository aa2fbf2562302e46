"""Settings the practice admin changes in the console: MFA policy, timeouts, passwords.

    practice_settings.get("idle_timeout_minutes")   # -> 15
    practice_settings.change("password_min_length", "14", actor=current_user)

Values live in the `practice_setting` table; a missing row means the default.
Each process caches them for `CACHE_SECONDS`, so a change reaches every gunicorn
worker within that time (and this process at once). Every change is audited.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from appliance.storage import db
from webapp.audit.service import record
from webapp.core.models import PracticeSetting
from webapp.core.permissions import MFA_ALWAYS_ROLES, ROLES
from webapp.core.timeutil import utcnow

CACHE_SECONDS = 30.0


class SettingError(ValueError):
    """A value the admin typed that the setting cannot take; the message says why."""


def _whole_number(low: int, high: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        text = raw.strip()
        if not text.isdecimal() or not low <= int(text) <= high:
            raise SettingError(f"Enter a whole number from {low} to {high}.")
        return int(text)

    return parse


def _optional_mfa_roles(raw: str) -> frozenset[str]:
    roles = frozenset(part.strip() for part in raw.split(",") if part.strip())
    unknown = roles - set(ROLES)
    if unknown:
        raise SettingError(f"Unknown role: {', '.join(sorted(unknown))}.")
    forced = roles & MFA_ALWAYS_ROLES
    if forced:
        raise SettingError("Two-step sign-in is always required for admins and supervisors.")
    return roles


@dataclass(frozen=True)
class Definition:
    label: str
    default: str
    parse: Callable[[str], Any]
    help: str


DEFINITIONS: dict[str, Definition] = {
    "mfa_optional_roles": Definition(
        "Roles that may sign in without two-step verification", "", _optional_mfa_roles,
        "Comma-separated roles (clinician, biller, front_desk). Empty means every "
        "staff member uses two-step sign-in. Admins and supervisors always do."),
    "idle_timeout_minutes": Definition(
        "Sign out after this many idle minutes", "15", _whole_number(2, 60),
        "HIPAA automatic logoff. The page warns a minute before."),
    "password_min_length": Definition(
        "Shortest password allowed", "12", _whole_number(8, 64),
        "NIST 800-63B: at least 8; 12 or more is recommended. No composition rules."),
    "break_glass_minutes": Definition(
        "Break-glass access lasts this many minutes", "60", _whole_number(5, 480),
        "How long an emergency opening of a record outside one's caseload lasts."),
}

_cache: dict[str, Any] = {}
_loaded_at = 0.0


def _load() -> dict[str, Any]:
    global _loaded_at
    if time.monotonic() - _loaded_at < CACHE_SECONDS and _cache:
        return _cache
    stored = {row.name: row.value for row in PracticeSetting.select()}
    values = {}
    for name, definition in DEFINITIONS.items():
        try:
            values[name] = definition.parse(stored.get(name, definition.default))
        except SettingError:
            values[name] = definition.parse(definition.default)  # a hand-edited bad row
    _cache.clear()
    _cache.update(values)
    _loaded_at = time.monotonic()
    return _cache


def get(name: str) -> Any:
    return _load()[name]


def all_values() -> dict[str, Any]:
    return dict(_load())


def raw_values() -> dict[str, str]:
    """As the admin would type them, for the settings form."""
    stored = {row.name: row.value for row in PracticeSetting.select()}
    return {name: stored.get(name, d.default) for name, d in DEFINITIONS.items()}


def forget_cache() -> None:
    global _loaded_at
    _loaded_at = 0.0


def change(name: str, raw: str, actor_id: int | None) -> Any:
    """Validate and store one setting; raises SettingError with a message for the form."""
    definition = DEFINITIONS.get(name)
    if definition is None:
        raise SettingError(f"There is no setting called {name!r}.")
    value = definition.parse(raw)
    text = ",".join(sorted(value)) if isinstance(value, frozenset) else str(value)
    with db.atomic():
        PracticeSetting.insert(name=name, value=text, updated_at=utcnow(),
                               updated_by=actor_id).on_conflict_replace().execute()
        record("config_change", object_type=f"setting.{name}")
    forget_cache()
    return value


def mfa_required(roles: frozenset[str]) -> bool:
    """Whether someone holding these roles must use two-step sign-in."""
    if roles & MFA_ALWAYS_ROLES:
        return True
    optional: frozenset[str] = get("mfa_optional_roles")
    return not roles or not roles <= optional
