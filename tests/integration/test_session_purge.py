"""Expired sessions are deleted by the worker's periodic task."""

from __future__ import annotations

from datetime import timedelta

from appliance.config import Settings
from appliance.storage import db
from webapp.core.models import WebSession
from webapp.core.sessions import ABSOLUTE_TIMEOUT, IDLE_TIMEOUT
from webapp.core.tasks import purge_expired_sessions
from webapp.core.timeutil import utcnow


def test_expired_sessions_are_purged(settings: Settings) -> None:
    """Are idle and too-old sessions deleted, and live ones kept?"""
    now = utcnow()
    rows = {
        "live": (now - timedelta(hours=1), now - timedelta(minutes=1)),
        "idle": (now - timedelta(hours=1), now - IDLE_TIMEOUT - timedelta(seconds=5)),
        "too-old": (now - ABSOLUTE_TIMEOUT - timedelta(minutes=1), now - timedelta(minutes=1)),
    }
    with db.connection_context():
        for name, (created, seen) in rows.items():
            WebSession.create(token_hash=name.ljust(64, "0"), app="staff", principal_id=1,
                              created_at=created, last_seen_at=seen)
    # The task as the consumer runs it (call_local skips the queue, not the wrapper).
    assert purge_expired_sessions.call_local() == 2
    with db.connection_context():
        left = [row.token_hash.rstrip("0") for row in WebSession.select()]
    assert left == ["live"]
