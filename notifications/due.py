"""The due list (models.NotificationDue): what the dispatcher claims.

Every write that leaves a notification waiting (scheduled, retry after a temporary error,
quiet-hours wait, queueing error, requeued by the reclaim rule, sent again by staff) sets its
entry with `due_set`; the dispatcher's claim (`dispatch.claim_due`) moves entries a lease
ahead; the task that receives the ids claims the notifications and clears their entries
(`dispatch.claim_ids`). `due_list_repair` (in settings.DUE_WORK) puts back any waiting
notification whose entry went missing.
"""

import logging
from datetime import datetime

from .models import WAITING_STATUSES, Notification, NotificationDue
from .sql import run

logger = logging.getLogger(__name__)


def due_set(entries: list[tuple[int, datetime]]) -> None:
    """Make each (notification id, due at) the notification's entry, replacing any other."""
    if entries:
        NotificationDue.objects.bulk_create(
            [NotificationDue(notification_id=pk, due_at=at) for pk, at in entries],
            update_conflicts=True, unique_fields=["notification"], update_fields=["due_at"])


def due_list_repair() -> dict:
    """DUE_WORK sweep: put back on the due list every waiting notification that has no entry.

    A writer interrupted between leaving a row waiting and setting its entry, or one that forgot
    the entry, would leave the row waiting for ever: nothing claims a row that is not listed. The
    sweep reads only waiting rows (the partial index notif_due_idx, whose predicate the
    statement repeats word for word so that the planner can use it) and looks each up in the
    due list's primary key, so its cost follows the number of waiting rows, not the history.
    The entry gets the row's `send_at`; an entry added for a row that stopped waiting meanwhile
    is dropped by the task that gets it, as any such entry is.
    """
    table, due_table = Notification._meta.db_table, NotificationDue._meta.db_table
    waiting = ", ".join(f"'{status}'" for status in WAITING_STATUSES)  # constants, no input
    repaired = [row[0] for row in run(
        f"INSERT INTO {due_table} (notification_id, due_at) "  # noqa: S608
        f"SELECT n.id, n.send_at FROM {table} n WHERE n.status IN ({waiting}) "
        f"AND NOT EXISTS (SELECT 1 FROM {due_table} d WHERE d.notification_id = n.id) "
        "ON CONFLICT (notification_id) DO NOTHING RETURNING notification_id", [])]
    if repaired:
        logger.warning("due list: %d waiting notifications had no entry and were put back "
                       "(first ids %s)", len(repaired), sorted(repaired)[:10])
    return {"repaired": len(repaired)}
