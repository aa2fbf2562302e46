"""Demo staff: every role, so each screen can be tried as the person who uses it.

Every demo staff member is enrolled in two-step sign-in (the practice default);
the TOTP secret goes into demo-credentials.json beside the password so a
newcomer can add it to an authenticator app (or compute codes with pyotp).
"""

from __future__ import annotations

import base64
import hashlib
import random
from typing import Any

from webapp.core.models import StaffUser
from webapp.core.passwords import hash_password
from webapp.core.timeutil import utcnow

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


def demo_totp_secret(rng: random.Random, username: str) -> str:
    """A base32 TOTP secret (160 bits): same seed, same secret. Derived from the shared
    generator's state without drawing from it, so later demo steps stay as they were."""
    state = f"hearth demo totp:{username}:{rng.getstate()!r}".encode()
    return base64.b32encode(hashlib.sha256(state).digest()[:20]).decode()


def load_staff(rng: random.Random, context: dict[str, Any]) -> str:
    credentials = []
    clinicians = []
    for username, full_name, title, roles in DEMO_STAFF:
        password = demo_password(rng)
        secret = demo_totp_secret(rng, username)
        user = StaffUser.create(username=username, full_name=full_name, credentials=title,
                                email=f"{username.replace('.', '')}@practice.example",
                                roles=",".join(roles), password_hash=hash_password(password),
                                password_changed_at=utcnow(), mfa_secret=secret,
                                mfa_enrolled_at=utcnow())
        credentials.append({"username": username, "password": password, "totp_secret": secret,
                            "roles": roles, "name": full_name})
        if "clinician" in roles:
            clinicians.append(user)
    context["credentials"]["staff"] = credentials
    context["clinicians"] = clinicians
    return f"{len(credentials)} staff accounts across every role, with two-step sign-in"
