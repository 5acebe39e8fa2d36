"""The runs that tie the steps together: beat's minute job, `send_due`'s, and the inline drain."""

import time
from collections import Counter

from django.conf import settings

from practices.due_work import in_process_outcomes

from .attempt import deliver
from .claim import claim_due
from .enqueue import enqueue_ids
from .reclaim import reclaim_expired


def dispatch_due() -> dict:
    """The due-work job (settings.DUE_WORK): reclaim expired leases, then claim every due row
    in chunks and hand them on.

    Under beat the chunks go to the Celery worker, within a time budget so that runs never
    overlap for long. In a `send_due` run (practices.due_work, in process) they are delivered
    here, chunk after chunk, until nothing is due: its report counts what came of them.
    """
    here = in_process_outcomes() is not None
    summary = dict.fromkeys(("requeued", "found_sent", "fate_unknown", "claimed", "enqueued"), 0)
    limit = 500
    while True:  # in process every expired lease is reclaimed; under beat one pass a minute
        reclaimed = reclaim_expired(limit=limit)
        summary.update({key: summary[key] + value for key, value in reclaimed.items()})
        if not here or sum(reclaimed.values()) < limit:
            break
    deadline = time.monotonic() + settings.NOTIFICATIONS_DISPATCH_BUDGET_SECONDS
    while here or time.monotonic() < deadline:
        ids = claim_due(limit=int(settings.NOTIFICATIONS_CLAIM_CHUNK))
        if not ids:
            break
        summary["claimed"] += len(ids)
        handed_on = enqueue_ids(ids)
        if not here:
            summary["enqueued"] += handed_on
        if handed_on < len(ids):
            break  # the broker is down: those rows are queueing_error until the next run
    if here:
        del summary["enqueued"]
    return summary


def drain_inline(*, rounds: int = 100) -> dict:
    """Claim and deliver everything due in this process, without Celery (tests, scripts)."""
    total = Counter({"sent": 0, "failed": 0, "refused": 0, "waiting": 0})
    reclaim_expired()
    for _ in range(rounds):
        ids = claim_due(limit=int(settings.NOTIFICATIONS_CLAIM_CHUNK))
        if not ids:
            break
        total.update(deliver(ids))
    return dict(total)
