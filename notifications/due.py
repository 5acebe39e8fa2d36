"""The due list (models.NotificationDue): what the dispatcher claims.

Every write that leaves a notification waiting (scheduled, retry after a temporary error,
quiet-hours wait, queueing error, requeued by the reclaim rule, sent again by staff) sets its
entry with `due_set`; the dispatcher's claim (`dispatch.claim_due`) moves entries a lease
ahead; the task that receives the ids claims the notifications and clears their entries
(`dispatch.claim_ids`).
"""

from datetime import datetime

from .models import NotificationDue


def due_set(entries: list[tuple[int, datetime]]) -> None:
    """Make each (notification id, due at) the notification's entry, replacing any other."""
    if entries:
        NotificationDue.objects.bulk_create(
            [NotificationDue(notification_id=pk, due_at=at) for pk, at in entries],
            update_conflicts=True, unique_fields=["notification"], update_fields=["due_at"])
