"""The worker's side of outgoing mail: one task per message, carrying its id only.

    send_mail(mail.id)      # queue_mail does this; nothing else should need to
"""

from __future__ import annotations

import logging

from appliance.config import Settings
from webapp.mail.service import deliver
from webapp.tasks import hearth_task

log = logging.getLogger(__name__)

# The web request that queued a mail commits a moment after enqueueing it; a
# worker that is quicker than that looks again a few times before giving up
# (a mail whose transaction rolled back is never sent).
MISSING_RETRIES = 5
MISSING_DELAY_SECONDS = 2


@hearth_task()
def send_mail(mail_id: int, looked_for: int = 0) -> str:
    outcome = deliver(mail_id, Settings.load())
    if outcome.status == "retry":
        log.warning("mail %s not sent (%s); retrying in %s s", mail_id, outcome.error,
                    outcome.retry_in)
        send_mail.schedule((mail_id,), delay=outcome.retry_in)
    elif outcome.status == "failed":
        log.error("mail %s not sent after its last attempt (%s)", mail_id, outcome.error)
    elif outcome.status == "missing" and looked_for < MISSING_RETRIES:
        send_mail.schedule((mail_id, looked_for + 1), delay=MISSING_DELAY_SECONDS)
    return outcome.status
