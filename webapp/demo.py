"""`hearth demo`: a realistic small practice, the same every time for a given seed.

Each domain contributes a step (staff first, then clients, then whatever later
domains add); the steps share one random generator so the whole practice is
deterministic. Demo sign-ins go to demo-credentials.json (0600) in the data dir.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

from appliance import HearthError
from appliance.fileutil import replace_file
from appliance.paths import Layout
from appliance.storage import db
from webapp.core.models import StaffUser

DemoStep = Callable[[random.Random, dict[str, Any]], str]


def steps() -> list[DemoStep]:
    from webapp.access.demo import load_supervision
    from webapp.clients.demo import load_clients
    from webapp.core.demo import load_staff
    from webapp.notes.demo import load_notes
    from webapp.scheduling.demo import load_schedule

    return [load_staff, load_clients, load_supervision, load_notes, load_schedule]


def load_demo(layout: Layout, seed: int = 2026, client_count: int = 150) -> str:
    with db.connection_context():
        if StaffUser.select().exists():
            raise HearthError("this database already has staff accounts; demo data goes only "
                              "into a new, empty installation")
        rng = random.Random(seed)
        context: dict[str, Any] = {"client_count": client_count, "credentials": {}}
        summaries = []
        with db.atomic():
            for step in steps():
                summaries.append(step(rng, context))
    credentials = {
        "note": "Demo data only. These accounts exist only in this development database.",
        **context["credentials"],
    }
    replace_file(layout.demo_credentials, json.dumps(credentials, indent=2).encode() + b"\n")
    summaries.append(f"demo sign-ins written to {layout.demo_credentials}")
    return "\n".join(summaries)
