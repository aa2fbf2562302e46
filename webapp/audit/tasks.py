"""The audit chain's periodic work: an hourly checkpoint and a nightly verification.

The hourly checkpoint puts the chain head outside the database (system log and
checkpoint file), so entries removed from the end are noticed. The nightly
verification keeps the console's "last verified" current and raises its alert
when the chain is broken, without anyone having to run `hearth audit verify`.
"""

from __future__ import annotations

from huey import crontab

from appliance.storage import db
from webapp.audit.checkpoints import record_verification, write_checkpoint
from webapp.audit.verify import verify
from webapp.tasks import hearth_periodic_task


@hearth_periodic_task(crontab(minute="0"))
def hourly_audit_checkpoint() -> None:
    write_checkpoint("hourly")


@hearth_periodic_task(crontab(minute="40", hour="3"))
def nightly_audit_verification() -> None:
    from webapp.audit.chain import audit_key

    layout = db.layout
    if layout is None:
        raise RuntimeError("the worker opened the database without its layout")
    report = verify(db, audit_key(), layout.audit_checkpoints)
    record_verification(layout, report.as_dict())
