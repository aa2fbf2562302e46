"""Who may do what: the whole matrix on one screen, and the decorator that enforces it.

Every view declares a permission (or `signed_in`); a view that declares nothing
is refused even to signed-in users. The matrix says what a role may do at all;
`webapp.access.service` narrows it to records: a clinician's caseload, a
supervisor's supervisees', and break-glass grants. Admin holds no clinical
permission: an admin reads a note only through break-glass.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

ROLES = ("admin", "clinician", "supervisor", "biller", "front_desk")

# permission              admin  clinician  supervisor  biller  front_desk
_MATRIX = {
    "clients.view":         (1,     1,         1,          1,      1),  # demographics
    "clients.edit":         (1,     1,         1,          0,      1),
    "clients.discharge":    (1,     1,         1,          0,      0),
    "clients.insurance":    (1,     1,         1,          1,      1),
    "clients.portal_invite": (1,    1,         1,          0,      1),
    "notes.view":           (0,     1,         1,          0,      0),  # caseload-scoped
    "notes.write":          (0,     1,         1,          0,      0),  # own notes
    "break_glass.open":     (1,     1,         1,          0,      0),
    "break_glass.review":   (1,     0,         1,          0,      0),
    "admin.console":        (1,     0,         0,          0,      0),
    "audit.view":           (1,     0,         0,          0,      0),  # trail, reports
    # clinicians their own calendar (supervisors also their supervisees'); the others
    # every clinician's, without clinical content (webapp.scheduling.service)
    "schedule.view":        (1,     1,         1,          1,      1),
    "schedule.edit":        (1,     1,         1,          0,      1),
}

# Roles whose work spans every client's demographics (schedule, billing, system).
# Clinicians and supervisors alone see only the clients in their scope.
ALL_CLIENTS_ROLES = frozenset({"admin", "biller", "front_desk"})
# MFA can never be relaxed for these roles (the practice may relax it for others).
MFA_ALWAYS_ROLES = frozenset({"admin", "supervisor"})

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    role: frozenset(perm for perm, row in _MATRIX.items() if row[index])
    for index, role in enumerate(ROLES)
}

SIGNED_IN = "signed_in"  # any signed-in user of the app serving the view

F = TypeVar("F", bound=Callable[..., Any])


def requires(permission: str) -> Callable[[F], F]:
    """Mark a view with the permission the deny-by-default guard checks."""
    if permission != SIGNED_IN and permission not in _MATRIX:
        raise ValueError(f"unknown permission {permission!r}")

    def mark(view: F) -> F:
        view._hearth_permission = permission  # type: ignore[attr-defined]
        return view

    return mark


def public(view: F) -> F:
    """Mark a view as open without signing in (login, health check)."""
    view._hearth_public = True  # type: ignore[attr-defined]
    return view


def permissions_for(roles: frozenset[str]) -> frozenset[str]:
    granted: set[str] = set()
    for role in roles:
        granted |= ROLE_PERMISSIONS.get(role, frozenset())
    return frozenset(granted)
