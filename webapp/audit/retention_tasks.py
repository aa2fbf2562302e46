"""The daily retention run (Huey): applies every retention policy, records what it did."""

from __future__ import annotations

from huey import crontab

from webapp.audit import retention
from webapp.tasks import hearth_periodic_task


@hearth_periodic_task(crontab(hour="3", minute="40"))
def apply_retention_policies() -> int:
    """Early morning (UTC), when the practice is quiet; returns the RetentionRun's id."""
    return int(retention.apply_policies().id)
