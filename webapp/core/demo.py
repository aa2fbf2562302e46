"""Demo staff: every role, so each screen can be tried as the person who uses it."""

from __future__ import annotations

import random
from typing import Any

from webapp.core.models import StaffUser
from webapp.core.passwords import hash_password

# username, full name, credentials, roles
DEMO_STAFF = [
    ("admin", "Morgan Reyes", "", ["admin"]),
    ("dr.okafor", "Adaeze Okafor", "PhD", ["clinician", "supervisor"]),
    ("jchen", "Julia Chen", "LCSW", ["clinician"]),
    ("mwalker", "Marcus Walker", "LMFT", ["clinician"]),
    ("sgarcia", "Sofia Garcia", "LPC", ["clinician"]),
    ("tnguyen", "Thanh Nguyen", "LMHC", ["clinician"]),
    ("rpatel", "Riya Patel", "LCSW-A", ["clinician"]),
    ("billing", "Dana Kowalski", "", ["biller"]),
    ("frontdesk", "Luis Ortega", "", ["front_desk"]),
]

_WORDS = ("meadow", "lantern", "harbor", "copper", "willow", "saffron", "granite", "orchard",
          "violet", "summit", "pebble", "juniper", "ember", "brook", "thistle", "cobalt")


def demo_password(rng: random.Random) -> str:
    return "-".join(rng.choice(_WORDS) for _ in range(4)) + f"-{rng.randrange(10, 99)}"


def load_staff(rng: random.Random, context: dict[str, Any]) -> str:
    credentials = []
    clinicians = []
    for username, full_name, title, roles in DEMO_STAFF:
        password = demo_password(rng)
        user = StaffUser.create(username=username, full_name=full_name, credentials=title,
                                email=f"{username.replace('.', '')}@practice.example",
                                roles=",".join(roles), password_hash=hash_password(password))
        credentials.append({"username": username, "password": password, "roles": roles,
                            "name": full_name})
        if "clinician" in roles:
            clinicians.append(user)
    context["credentials"]["staff"] = credentials
    context["clinicians"] = clinicians
    return f"{len(credentials)} staff accounts across every role"
