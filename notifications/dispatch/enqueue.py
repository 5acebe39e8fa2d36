"""Handing claimed ids on: to the Celery worker, or, in a `send_due` run, to `deliver` here."""

import logging
import threading
from itertools import batched

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from practices.due_work import in_process_outcomes

from ..due import due_set
from ..models import Notification, NotificationEvent, Status

logger = logging.getLogger(__name__)

# A broker that is down must not hold the dispatcher for long: one quick retry, then the rows
# become `queueing_error` and the next run tries again.
_PUBLISH_RETRY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.5, "interval_max": 0.5}


def enqueue_ids(ids: list[int]) -> int:
    """Hand ids on in chunks of NOTIFICATIONS_TASK_CHUNK; return how many were handed on.

    Under beat (and on commit in the portal or the API) each chunk is a Celery task; if the
    broker is unreachable the rows become `queueing_error` and the next dispatcher run picks
    them up again. In a `send_due` run (practices.due_work) each chunk is delivered here, by
    the task's own body, and its outcomes are counted for the run's report.
    """
    chunks = [list(chunk) for chunk in batched(ids, int(settings.NOTIFICATIONS_TASK_CHUNK), strict=False)]
    outcomes = in_process_outcomes()
    if outcomes is not None:
        from .attempt import deliver

        for chunk in chunks:
            outcomes.update(deliver(chunk))
        return len(ids)
    from ..tasks import notifications_deliver

    sent = 0
    for i, chunk in enumerate(chunks):
        try:
            notifications_deliver.apply_async(args=[chunk], retry=True,
                                              retry_policy=_PUBLISH_RETRY)
            sent += len(chunk)
        except Exception as exc:  # kombu raises several types for a broker that is down
            logger.warning("enqueue of %d notifications failed: %r", len(ids) - sent, exc)
            rest = [pk for c in chunks[i:] for pk in c]
            _mark_queueing_error(rest, f"could not reach the task queue ({type(exc).__name__})")
            break
    return sent


def _mark_queueing_error(ids, detail):
    now = timezone.now()
    with transaction.atomic():
        changed = list(Notification.objects.filter(
            pk__in=ids, attempt_started_at__isnull=True,
            status__in=[Status.SENDING, Status.QUEUED]).values_list("pk", flat=True))
        Notification.objects.filter(pk__in=changed, attempt_started_at__isnull=True).update(
            status=Status.QUEUEING_ERROR, lease_expires_at=None, updated_at=now)
        # Due again at once: the next run claims them (entries of rows no longer waiting are
        # dropped by the task that gets them).
        due_set([(pk, now) for pk in ids])
        NotificationEvent.objects.bulk_create(
            NotificationEvent(notification_id=pk, status=Status.QUEUEING_ERROR, detail=detail)
            for pk in changed)


class _PendingEnqueue:
    """Ids scheduled in one transaction, enqueued together when it commits."""

    def __init__(self):
        self.ids = []

    def __call__(self):
        _pending.current = None
        enqueue_ids(self.ids)


_pending = threading.local()


def enqueue_on_commit(notification_id: int) -> None:
    conn = transaction.get_connection()
    if not conn.in_atomic_block:
        enqueue_ids([notification_id])
        return
    current = getattr(_pending, "current", None)
    # A rolled-back savepoint drops its on_commit callbacks: only reuse one that is still there.
    if current is None or not any(entry[1] is current for entry in conn.run_on_commit):
        current = _pending.current = _PendingEnqueue()
        transaction.on_commit(current)
    current.ids.append(notification_id)
