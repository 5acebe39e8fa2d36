"""Getting due notifications to their channel exactly once.

The life of a row (statuses in models.Status):

1. `queued` (or `queueing_error`, or `undeliverable_retry` waiting for its next attempt) with a
   `send_at`. Rows due now are enqueued on commit by notification_schedule; the once-a-minute
   dispatcher (`dispatch_due`, in settings.DUE_WORK) claims any due row in chunks.
2. Claim: one conditional UPDATE (`FOR UPDATE SKIP LOCKED` on PostgreSQL) moves due waiting rows
   to `sending` with a claim lease (NOTIFICATIONS_CLAIM_LEASE_SECONDS) and no attempt started.
   Chunks of ids go to Celery (`notifications.tasks.notifications_deliver`).
3. Attempt: the task checks the contact policy, waits for the sender's rate, then takes the
   row with a second conditional UPDATE that sets `attempt_started_at` only where it is still
   NULL. Only the one UPDATE that changes the row may call the provider: a task delivered twice,
   or two tasks for one row, send once. The send lease becomes
   NOTIFICATIONS_SEND_LEASE_SECONDS (always longer than the provider timeout).
4. Outcome: `sent` with the provider's id; a temporary error -> `undeliverable_retry` with a
   later `send_at` (bounded, exponential backoff) or `delivery_error` once attempts run out; a
   permanent error -> `undeliverable_permanent`.

Reclaim rule for an expired lease (`sending` and `lease_expires_at` past), run by the dispatcher:

- no attempt started: the provider was never called, so the row goes back to `queued` and is
  claimed again. Safe.
- attempt started: the worker died between the provider call and recording its answer. By now
  the lease is longer than the provider timeout, so the provider has either accepted the
  message or never will. The channel is asked (`lookup`): Twilio SMS is searched for a message
  to the address with this text whose sid no other notification holds; the sandbox is searched
  by notification id. Found -> `sent` with that id. Certainly absent -> `queued` again.
  The channel cannot tell (email through an ESP, voice) -> `delivery_error`, never resent
  automatically; staff see "Delivery error" with the detail "Fate unknown: the send was
  interrupted ..." in the row's history and decide to send again or cancel.
"""

import logging
import random
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from .channels import FateUnknown, PermanentError, TemporaryError, channel_open
from .contact_policy import PolicyContext
from .models import WAITING_STATUSES, Channel, Notification, NotificationEvent, OptOut, Status
from .sending_rate import rate_for, sending_rate_acquire

logger = logging.getLogger(__name__)

TABLE = Notification._meta.db_table
UNKNOWN_FATE = ("Fate unknown: the send was interrupted after it began and the provider cannot "
                "be asked whether it arrived. Check with the recipient, then send again or cancel.")


def _lease(seconds: int):
    return timezone.now() + timedelta(seconds=seconds)


def send_lease_seconds() -> int:
    return max(int(settings.NOTIFICATIONS_SEND_LEASE_SECONDS), int(settings.TWILIO_TIMEOUT) + 5)


def _claim(where: str, params: list, limit: int | None = None) -> list[int]:
    """Move waiting due rows matching `where` to sending, under a claim lease; return their ids."""
    now = timezone.now()
    waiting = list(WAITING_STATUSES)
    placeholders = ", ".join(["%s"] * len(waiting))
    lock = " FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else ""
    limit_sql = f" ORDER BY send_at LIMIT {int(limit)}" if limit else ""
    # Only placeholders and our own table name are interpolated; values go as parameters.
    sql = (f"UPDATE {TABLE}"  # noqa: S608
           f" SET status = %s, lease_expires_at = %s, attempt_started_at = NULL, "
           f"updated_at = %s WHERE id IN (SELECT id FROM {TABLE} WHERE status IN ({placeholders}) "
           f"AND send_at <= %s{where}{limit_sql}{lock}) AND status IN ({placeholders}) RETURNING id")
    args = [Status.SENDING, _lease(settings.NOTIFICATIONS_CLAIM_LEASE_SECONDS), now, *waiting,
            now, *params, *waiting]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, args)
        return [row[0] for row in cursor.fetchall()]


def claim_due(*, limit: int = 500) -> list[int]:
    """Claim up to `limit` due rows (the dispatcher's chunk)."""
    return _claim("", [], limit)


def claim_ids(ids: list[int]) -> list[int]:
    """Claim those of `ids` that are waiting and due (the immediate path, in the task)."""
    if not ids:
        return []
    return _claim(f" AND id IN ({', '.join(['%s'] * len(ids))})", list(ids))


def _chunks(ids, size):
    for i in range(0, len(ids), size):
        yield ids[i:i + size]


def enqueue_ids(ids: list[int]) -> int:
    """Hand ids to Celery in chunks. If the broker is unreachable the rows become
    `queueing_error` and the next dispatcher run picks them up again."""
    from .tasks import notifications_deliver

    sent = 0
    for chunk in _chunks(list(ids), int(settings.NOTIFICATIONS_TASK_CHUNK)):
        try:
            notifications_deliver.delay(chunk)
            sent += len(chunk)
        except Exception as exc:  # kombu raises several types for a broker that is down
            logger.warning("enqueue of %d notifications failed: %s", len(chunk), type(exc).__name__)
            _mark_queueing_error(chunk, f"could not reach the task queue ({type(exc).__name__})")
    return sent


def _mark_queueing_error(ids, detail):
    now = timezone.now()
    with transaction.atomic():
        changed = list(Notification.objects.filter(
            pk__in=ids, attempt_started_at__isnull=True,
            status__in=[Status.SENDING, Status.QUEUED]).values_list("pk", flat=True))
        Notification.objects.filter(pk__in=changed, attempt_started_at__isnull=True).update(
            status=Status.QUEUEING_ERROR, lease_expires_at=None, updated_at=now)
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
    current = getattr(_pending, "current", None)
    # A rolled-back savepoint drops its on_commit callbacks: only reuse one that is still there.
    if current is None or not any(entry[1] is current for entry in conn.run_on_commit):
        current = _pending.current = _PendingEnqueue()
        transaction.on_commit(current)
    current.ids.append(notification_id)


def _backoff(attempts: int) -> timedelta:
    base = settings.NOTIFICATIONS_RETRY_BASE_SECONDS * (2 ** max(0, attempts - 1))
    return timedelta(seconds=min(base, 3600) * (1 + random.random() * 0.2))


def _sender(n: Notification, ctx: PolicyContext) -> str:
    if n.channel == Channel.EMAIL:
        return "email"
    s = ctx.settings.get(n.practice_id)
    if n.channel == Channel.SMS and s and s.twilio_messaging_service_sid:
        return s.twilio_messaging_service_sid
    if s and s.twilio_from_number:
        return s.twilio_from_number
    return settings.TWILIO_DEFAULT_FROM


def _event(pk, status, detail="", reason_code=""):
    return NotificationEvent(notification_id=pk, status=status, detail=detail[:500],
                             reason_code=reason_code)


class _Attempt:
    """Record the outcome of one attempt, conditional on still owning the attempt."""

    def __init__(self, n: Notification, started):
        self.n, self.started = n, started
        self.qs = Notification.objects.filter(pk=n.pk, attempt_started_at=started)

    def sent(self, provider_id: str, events: list):
        now = timezone.now()
        if self.qs.filter(status=Status.SENDING).update(
                status=Status.SENT, provider_message_id=provider_id[:200], sent_at=now,
                lease_expires_at=None, last_error="", updated_at=now):
            events.append(_event(self.n.pk, Status.SENT, f"accepted by provider: {provider_id}"))

    def failed(self, exc: Exception, events: list):
        now = timezone.now()
        attempts = self.n.attempts + 1
        error = str(exc)[:500]
        if isinstance(exc, PermanentError):
            status, send_at = Status.UNDELIVERABLE_PERMANENT, self.n.send_at
            detail = f"permanent error, no retry: {error}"
            if exc.code == "21610":  # the carrier says this number replied STOP
                OptOut.objects.get_or_create(practice_id=self.n.practice_id, channel=self.n.channel,
                                             address=self.n.address,
                                             defaults={"source": OptOut.Source.PROVIDER})
        elif attempts >= settings.NOTIFICATIONS_MAX_ATTEMPTS:
            status, send_at = Status.DELIVERY_ERROR, self.n.send_at
            detail = f"temporary error on attempt {attempts}, no attempts left: {error}"
        else:
            status, send_at = Status.UNDELIVERABLE_RETRY, now + _backoff(attempts)
            detail = f"temporary error on attempt {attempts}, retry at {send_at:%H:%M:%S %Z}: {error}"
        # A retry needs attempt_started_at cleared so the next attempt can take the row again.
        if self.qs.filter(status=Status.SENDING).update(
                status=status, send_at=send_at, last_error=error, lease_expires_at=None,
                attempt_started_at=None if status == Status.UNDELIVERABLE_RETRY else self.started,
                updated_at=now):
            events.append(_event(self.n.pk, status, detail))


def deliver(ids: list[int]) -> dict:
    """Send the given notifications that are due and not yet attempted (the Celery task body).

    Safe to run twice, concurrently, or after a reclaim: see the module docstring.
    """
    claim_ids(ids)
    rows = list(Notification.objects.filter(
        pk__in=ids, status=Status.SENDING, attempt_started_at__isnull=True)
        .select_related("practice").order_by("send_at", "pk"))
    summary = {"sent": 0, "failed": 0, "refused": 0, "waiting": 0}
    if not rows:
        return summary
    ctx = PolicyContext(rows, timezone.now())
    events: list[NotificationEvent] = []
    backends = {}
    lease = send_lease_seconds()
    try:
        for n in rows:
            decision = ctx.decide(n)
            unclaimed = Notification.objects.filter(pk=n.pk, status=Status.SENDING,
                                                    attempt_started_at__isnull=True)
            if decision.action == "refuse":
                if unclaimed.update(status=Status.WILL_NOT_SEND, reason_code=decision.reason_code,
                                    lease_expires_at=None, updated_at=timezone.now()):
                    events.append(_event(n.pk, Status.WILL_NOT_SEND, decision.detail,
                                         decision.reason_code))
                    summary["refused"] += 1
                continue
            if decision.action == "wait":
                if unclaimed.update(status=Status.QUEUED, send_at=decision.until,
                                    lease_expires_at=None, updated_at=timezone.now()):
                    events.append(_event(n.pk, Status.QUEUED, decision.detail))
                    summary["waiting"] += 1
                continue
            sender = _sender(n, ctx)
            practice_settings = ctx.settings.get(n.practice_id)
            sending_rate_acquire(sender=f"{n.channel}:{sender}", rate=rate_for(
                n.channel, practice_settings.rate_per_second if practice_settings else None))
            started = timezone.now()
            if not unclaimed.update(attempt_started_at=started, attempts=F("attempts") + 1,
                                    sender=sender[:80], lease_expires_at=started + timedelta(
                                        seconds=lease), updated_at=started):
                continue  # someone else took it, or it was cancelled: never send twice
            events.append(_event(n.pk, Status.SENDING, f"{decision.detail}; sending via {sender}"))
            backend = backends.get(n.channel)
            if backend is None:
                backend = backends[n.channel] = channel_open(n.channel)
            attempt = _Attempt(n, started)
            try:
                provider_id = backend.send(n, sender)
            except (TemporaryError, PermanentError) as exc:
                attempt.failed(exc, events)
                summary["failed"] += 1
            except Exception as exc:
                logger.exception("notification %s: unexpected error from %s", n.pk, n.channel)
                attempt.failed(TemporaryError(f"unexpected error: {type(exc).__name__}"), events)
                summary["failed"] += 1
            else:
                attempt.sent(provider_id, events)
                ctx.record_sent(n)
                summary["sent"] += 1
            if len(events) >= 200:
                NotificationEvent.objects.bulk_create(events)
                events = []
    finally:
        if events:
            NotificationEvent.objects.bulk_create(events)
        for backend in backends.values():
            backend.close()
    return summary


def reclaim_expired(*, limit: int = 500) -> dict:
    """Apply the reclaim rule (module docstring) to rows whose lease has expired."""
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
                if mine.filter(attempt_started_at__isnull=True).update(
                        status=Status.QUEUED, lease_expires_at=None, updated_at=now):
                    events.append(_event(n.pk, Status.QUEUED,
                                         "claim expired before the send began: queued again"))
                    summary["requeued"] += 1
                continue
            backend = backends.get(n.channel) or backends.setdefault(n.channel,
                                                                     channel_open(n.channel))
            try:
                provider_id = backend.lookup(n)
            except FateUnknown:
                if mine.update(status=Status.DELIVERY_ERROR, last_error=UNKNOWN_FATE[:500],
                               lease_expires_at=None, updated_at=now):
                    events.append(_event(n.pk, Status.DELIVERY_ERROR, UNKNOWN_FATE))
                    summary["fate_unknown"] += 1
                continue
            if provider_id:
                if mine.update(status=Status.SENT, provider_message_id=provider_id, sent_at=now,
                               lease_expires_at=None, updated_at=now):
                    events.append(_event(n.pk, Status.SENT,
                                         f"interrupted send found at the provider: {provider_id}"))
                    summary["found_sent"] += 1
            elif mine.update(status=Status.QUEUED, attempt_started_at=None, lease_expires_at=None,
                             send_at=now, updated_at=now):
                events.append(_event(n.pk, Status.QUEUED,
                                     "interrupted send never reached the provider: queued again"))
                summary["requeued"] += 1
    finally:
        NotificationEvent.objects.bulk_create(events)
        for backend in backends.values():
            backend.close()
    return summary


def dispatch_due() -> dict:
    """The once-a-minute job (settings.DUE_WORK): reclaim expired leases, then claim every due
    row in chunks and enqueue them, within a time budget so runs never overlap for long."""
    summary = {"reclaim": reclaim_expired(), "claimed": 0, "enqueued": 0}
    deadline = time.monotonic() + settings.NOTIFICATIONS_DISPATCH_BUDGET_SECONDS
    while time.monotonic() < deadline:
        ids = claim_due(limit=int(settings.NOTIFICATIONS_CLAIM_CHUNK))
        if not ids:
            break
        summary["claimed"] += len(ids)
        summary["enqueued"] += enqueue_ids(ids)
    return summary


def drain_inline(*, rounds: int = 100) -> dict:
    """Claim and deliver everything due in this process, without Celery (tests, scripts)."""
    total = {"sent": 0, "failed": 0, "refused": 0, "waiting": 0}
    reclaim_expired()
    for _ in range(rounds):
        ids = claim_due(limit=int(settings.NOTIFICATIONS_CLAIM_CHUNK))
        if not ids:
            break
        for key, value in deliver(ids).items():
            total[key] += value
    return total
