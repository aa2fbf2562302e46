"""Creating staff accounts (the identity issue adds policy, MFA and deprovisioning)."""

from __future__ import annotations

import secrets

from appliance.storage import db
from webapp.audit.service import record
from webapp.core.models import StaffUser
from webapp.core.passwords import hash_password
from webapp.core.permissions import ROLES

_WORDS = ("amber", "birch", "cedar", "delta", "ember", "fjord", "grove", "harbor", "iris",
          "juniper", "kettle", "lumen", "maple", "nectar", "orchid", "pebble", "quartz",
          "river", "sable", "thistle", "umber", "velvet", "willow", "yarrow", "zephyr")


def generate_password(words: int = 5) -> str:
    return "-".join(secrets.choice(_WORDS) for _ in range(words)) + f"-{secrets.randbelow(100)}"


def create_staff_user(username: str, full_name: str, roles: list[str], password: str,
                      credentials: str = "", email: str = "") -> StaffUser:
    unknown = set(roles) - set(ROLES)
    if unknown or not roles:
        raise ValueError(f"unknown roles: {sorted(unknown)}" if unknown else "no role given")
    password_hash = hash_password(password)  # slow: outside the write transaction
    with db.atomic():
        user = StaffUser.create(username=username.strip().lower(), full_name=full_name.strip(),
                                roles=",".join(sorted(set(roles))), credentials=credentials,
                                email=email, password_hash=password_hash)
        record("create", object_type="staff_user", object_id=user.id, actor_kind="system")
    return user
