"""The permission matrix and the decorator that marks views."""

from __future__ import annotations

import pytest

from webapp.core.permissions import ROLE_PERMISSIONS, ROLES, permissions_for, requires


def test_every_role_is_in_the_matrix() -> None:
    """Does every staff role have an entry, so none is silently all-or-nothing?"""
    assert set(ROLE_PERMISSIONS) == set(ROLES)


def test_biller_sees_demographics_but_cannot_edit_them() -> None:
    """Can a biller view clients and insurance but not edit or discharge?"""
    biller = permissions_for(frozenset({"biller"}))
    assert {"clients.view", "clients.insurance"} <= biller
    assert "clients.edit" not in biller and "clients.discharge" not in biller


def test_roles_combine() -> None:
    """Does a user with two roles get the union of both?"""
    both = permissions_for(frozenset({"biller", "front_desk"}))
    assert "clients.edit" in both and "clients.insurance" in both


def test_unknown_permission_is_a_programming_error() -> None:
    """Does marking a view with a misspelt permission fail at import time?"""
    with pytest.raises(ValueError, match="unknown permission"):
        requires("clients.veiw")
