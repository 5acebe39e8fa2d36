"""The reclaim rule for an expired lease (see the package docstring)."""

from django.db import transaction
from django.utils import timezone

from ..channels import FateUnknown, channel_open
from ..due import due_set
from ..models import Notification, Status
from .outcome import event, events_write

UNKNOWN_FATE = ("Fate unknown: the send was interrupted after it began and the provider cannot "
                "be asked whether it arrived. Check with the recipient, then send again or cancel.")


def _requeue(mine, n, events: list, detail: str, **fields) -> bool:
    """Put an expired row back in the queue, on the due list in the same transaction."""
    with transaction.atomic():
        if not mine.update(status=Status.QUEUED, lease_expires_at=None, **fields):
            return False
        due_set([(n.pk, fields.get("send_at", n.send_at))])
    events.append(event(n.pk, Status.QUEUED, detail))
    return True


def reclaim_expired(*, limit: int = 500) -> dict:
    """Apply the reclaim rule to up to `limit` rows whose lease has expired."""
    now = timezone.now()
    summary = {"requeued": 0, "found_sent": 0, "fate_unknown": 0}
    rows = list(Notification.objects.filter(status=Status.SENDING, lease_expires_at__lt=now)
                .select_related("practice").order_by("lease_expires_at")[:limit])
    events = []
    backends = {}
    try:
        for n in rows:
            mine = Notification.objects.filter(pk=n.pk, status=Status.SENDING,
                                               attempt_started_at=n.attempt_started_at,
                                               lease_expires_at__lt=now)
            if n.attempt_started_at is None:
                if _requeue(mine.filter(attempt_started_at__isnull=True), n, events,
                            "claim expired before the send began: queued again", updated_at=now):
                    summary["requeued"] += 1
                continue
            backend = backends.get(n.channel) or backends.setdefault(n.channel,
                                                                     channel_open(n.channel))
            try:
                provider_id = backend.lookup(n)
            except FateUnknown:
                if mine.update(status=Status.DELIVERY_ERROR, last_error=UNKNOWN_FATE[:500],
                               lease_expires_at=None, updated_at=now):
                    events.append(event(n.pk, Status.DELIVERY_ERROR, UNKNOWN_FATE))
                    summary["fate_unknown"] += 1
                continue
            if provider_id:
                if mine.update(status=Status.SENT, provider_message_id=provider_id, sent_at=now,
                               lease_expires_at=None, updated_at=now):
                    events.append(event(n.pk, Status.SENT,
                                        f"interrupted send found at the provider: {provider_id}"))
                    summary["found_sent"] += 1
            elif _requeue(mine, n, events, "interrupted send never reached the provider: queued again",
                          attempt_started_at=None, send_at=now, sent_at=None, updated_at=now):
                summary["requeued"] += 1
    finally:
        events_write(events)
        for backend in backends.values():
            backend.close()
    return summary
