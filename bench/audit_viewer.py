"""The audit viewer's queries over a large trail (part of group "audit").

    figures = viewer_figures(layout)   # a data dir whose trail is already built

Times `webapp.audit.review.trail_page` (the console page's query, keyset-paged,
with the staff names for the page) for each shape of filter the issue names,
cycling through different clients, staff and periods so the timings are not one
cached answer. Figures (median ms per query; target < 200 ms each):

- viewer_unfiltered_ms       the newest page of the whole trail
- viewer_by_client_ms        one client's newest page
- viewer_by_user_ms          one staff member's newest page
- viewer_action_range_ms     one action within a 90-day period a few years back
- viewer_deep_page_ms        a page from the middle of the trail, by keyset (no OFFSET)
- viewer_outcome_ms          the newest "denied" entries: outcome has no index, so a page
                             looks through at most SEARCH_WINDOW entries (the worst case)
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from bench.common import Figure, median_time, note

GROUP = "audit"
TARGET = "< 200 ms"
SAMPLES = 20  # different clients / staff / periods cycled through


def _cycled(values: list[Any], query: Callable[[Any], Any]) -> Callable[[], Any]:
    turn = itertools.cycle(values)
    return lambda: query(next(turn))


def viewer_figures(layout: Any, rounds: int = 15) -> list[Figure]:
    from peewee import fn

    from appliance.storage import db, open_database
    from webapp.audit.models import AuditEntry
    from webapp.audit.review import TrailFilter, trail_page

    open_database(layout)
    with db.connection_context():
        total = AuditEntry.select().count()
        first_id, last_id = AuditEntry.select(fn.MIN(AuditEntry.id), fn.MAX(AuditEntry.id)
                                              ).tuples().get()
        newest = AuditEntry.select(fn.MAX(AuditEntry.occurred_at)).scalar()
        recent = AuditEntry.select(AuditEntry.client_id, AuditEntry.actor_id).where(
            AuditEntry.client_id.is_null(False) & (AuditEntry.actor_kind == "staff")).order_by(
            AuditEntry.id.desc()).limit(2000)
        clients = list(dict.fromkeys(row.client_id for row in recent))[:SAMPLES]
        staff = list(dict.fromkeys(row.actor_id for row in recent))[:SAMPLES]
        periods = [(newest - timedelta(days=400 + 30 * n), newest - timedelta(days=310 + 30 * n))
                   for n in range(SAMPLES)]
        middles = [first_id + (last_id - first_id) * (n + 5) // (SAMPLES + 10)
                   for n in range(SAMPLES)]
        note(f"viewer over {total:,} entries: {len(clients)} clients, {len(staff)} staff sampled")
        shapes: dict[str, Callable[[], Any]] = {
            "viewer_unfiltered_ms": lambda: trail_page(TrailFilter()),
            "viewer_by_client_ms": _cycled(clients, lambda c: trail_page(
                TrailFilter(client_id=c))),
            "viewer_by_user_ms": _cycled(staff, lambda s: trail_page(TrailFilter(actor_id=s))),
            "viewer_action_range_ms": _cycled(periods, lambda p: trail_page(
                TrailFilter(action="view", since=p[0], until=p[1]))),
            "viewer_deep_page_ms": _cycled(middles, lambda m: trail_page(TrailFilter(),
                                                                         before=m)),
            "viewer_outcome_ms": lambda: trail_page(TrailFilter(outcome="denied")),
        }
        figures = []
        for name, query in shapes.items():
            rows = len(query().rows)
            seconds = median_time(query, rounds=rounds, min_batch_s=0.02)
            varied = "" if name in ("viewer_unfiltered_ms", "viewer_outcome_ms") else \
                f", {SAMPLES} values in turn"
            figures.append(Figure(GROUP, name, seconds * 1000, "ms", target=TARGET,
                                  detail=f"{total:,} entries, {rows} rows on the first "
                                         f"page{varied}"))
    return figures
