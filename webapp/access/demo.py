"""Demo supervision: Dr. Okafor supervises two of the clinicians, so her caseload view
shows how a supervisor sees supervisees' clients (and their notes)."""

from __future__ import annotations

import random
from typing import Any

from webapp.core.models import StaffUser, Supervision

SUPERVISOR = "dr.okafor"
SUPERVISEES = ("rpatel", "tnguyen")  # an associate (LCSW-A) and a newer counselor


def load_supervision(rng: random.Random, context: dict[str, Any]) -> str:
    supervisor = StaffUser.get_or_none(StaffUser.username == SUPERVISOR)
    if supervisor is None:
        return "no supervision (the demo supervisor is missing)"
    supervisees = list(StaffUser.select().where(StaffUser.username.in_(SUPERVISEES))
                       .order_by(StaffUser.username))
    for supervisee in supervisees:
        Supervision.create(supervisor=supervisor, supervisee=supervisee)
    names = " and ".join(s.username for s in supervisees)
    return f"{SUPERVISOR} supervises {names}"
