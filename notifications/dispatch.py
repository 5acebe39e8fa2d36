"""Getting due notifications to their channel exactly once.

The life of a row (statuses in models.Status):

1. `queued` (or `queueing_error`, or `undeliverable_retry` waiting for its next attempt) with a
   `send_at`, and an entry on the due list (models.NotificationDue, `due_at` = `send_at`;
   every write that leaves a row waiting sets it, see due.py). Rows due now are enqueued on
   commit by notification_schedule; the once-a-minute dispatcher (`dispatch_due`, in
   settings.DUE_WORK) claims due entries in chunks.
2. Claim, in two steps. The dispatcher's claim (`claim_due`, `FOR UPDATE SKIP LOCKED` on
   PostgreSQL) touches only the narrow due list: it moves each due entry's `due_at` a claim
   lease (NOTIFICATIONS_CLAIM_LEASE_SECONDS) ahead, so the entry is not claimed again
   meanwhile and comes back by itself if its ids are lost, and hands chunks of ids to Celery
   (`notifications.tasks.notifications_deliver`). The task then claims the rows themselves
   (`claim_ids`): one conditional UPDATE moves those still waiting and due to `sending` with a
   claim lease and no attempt started, and clears their entries. Until then a claimed row
   still reads `queued` on the screens.
3. Attempt: the task checks the contact policy, waits for the sender's rate, then takes a
   small batch of rows (NOTIFICATIONS_ATTEMPT_BATCH) with a second conditional UPDATE that sets
   `attempt_started_at` only where it is still NULL. Only the UPDATE that changed a row may call
   the provider for it: a task delivered twice, or two tasks for one row, send once. The send
   lease becomes NOTIFICATIONS_SEND_LEASE_SECONDS (always longer than the provider timeout).
   The take is also where the frequency cap is enforced across processes: in its transaction,
   under an advisory lock per recipient, the recipient's sends are counted again and the take
   writes `sent_at` on texts and calls, so an attempt in flight counts like a send (a failed
   attempt clears it again). Two tasks texting one recipient at once cannot both pass.
   The batch's outcomes are recorded together, so a worker killed mid-batch leaves at most one
   batch per process to the reclaim rule below.
4. Outcome: `sent` with the provider's id; a temporary error -> `undeliverable_retry` with a
   later `send_at` (bounded, exponential backoff) or `delivery_error` once attempts run out; a
   permanent error -> `undeliverable_permanent`.

Reclaim rule for an expired lease (`sending` and `lease_expires_at` past), run by the dispatcher:

- no attempt started: the provider was never called, so the row goes back to `queued` (and on
  the due list) and is claimed again. Safe.
- attempt started: the worker died between the provider call and recording its answer. By now
  the lease is longer than the provider timeout, so the provider has either accepted the
  message or never will. The channel is asked (`lookup`): Twilio SMS is searched for a message
  to the address with this text whose sid no other notification holds; the sandbox is searched
  by notification id. Found -> `sent` with that id. Certainly absent -> `queued` again.
  The channel cannot tell (email through an ESP, voice) -> `delivery_error`, never resent
  automatically; staff see "Delivery error" with the detail "Fate unknown: the send was
  interrupted ..." in the row's history and decide to send again or cancel.
"""

import hashlib
import logging
import random
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import BooleanField
from django.db.models.expressions import RawSQL
from django.utils import timezone

from practices.models import Practice

from .channels import FateUnknown, PermanentError, TemporaryError, channel_open
from .contact_policy import PHONE_CHANNELS, Decision, PolicyContext
from .due import due_set
from .models import (
    WAITING_STATUSES,
    Channel,
    Notification,
    NotificationDue,
    NotificationEvent,
    OptOut,
    ReasonCode,
    Status,
)
from .sending_rate import rate_for, sending_rate_acquire
from .statements import among, run

logger = logging.getLogger(__name__)

TABLE = Notification._meta.db_table
DUE_TABLE = NotificationDue._meta.db_table
UNKNOWN_FATE = ("Fate unknown: the send was interrupted after it began and the provider cannot "
                "be asked whether it arrived. Check with the recipient, then send again or cancel.")


# What delivery reads of a row: the wide columns a screen needs (recipient name, reason,
# template, last error) stay in the table.
DELIVER_FIELDS = ("id", "practice_id", "recipient_kind", "recipient_id", "recipient_time_zone",
                  "consent", "channel", "address", "kind", "addon", "subject", "body", "html_body",
                  "send_at", "first_due_at", "status", "attempts", "attempt_started_at")


class DueMessage:
    """A notification as delivery reads it: the DELIVER_FIELDS of its row and its practice.

    The channels and the contact policy read these attributes as they would a Notification's;
    a plain object costs a fraction of a model instance, which was a tenth of the worker's CPU
    per message.
    """

    __slots__ = (*DELIVER_FIELDS, "practice")

    def __init__(self, values, practice):
        for name, value in zip(DELIVER_FIELDS, values, strict=True):
            setattr(self, name, value)
        self.practice = practice

    @property
    def pk(self) -> int:
        return self.id


def _lease(seconds: int):
    return timezone.now() + timedelta(seconds=seconds)


def send_lease_seconds() -> int:
    return max(int(settings.NOTIFICATIONS_SEND_LEASE_SECONDS), int(settings.TWILIO_TIMEOUT) + 5)


def claim_due(*, limit: int = 500) -> list[int]:
    """Claim up to `limit` due entries of the due list (the dispatcher's chunk); return the
    notification ids.

    Only the narrow due list changes: each entry's `due_at` moves a claim lease ahead, so the
    entry is not claimed again before then, and comes back by itself if the ids are lost
    (a broker that drops the task, a worker killed before it claimed them). The notification
    rows are claimed by the task that gets the ids (`claim_ids`). The locking SELECT is a
    materialized CTE so PostgreSQL runs it once; SKIP LOCKED lets two dispatchers claim side
    by side. SQLite has one writer at a time, so the UPDATE alone is enough.
    """
    now = timezone.now()
    if connection.vendor == "postgresql":
        lock = " FOR UPDATE SKIP LOCKED"
        among_due = "notification_id = ANY(ARRAY(SELECT notification_id FROM due))"
    else:
        lock, among_due = "", "notification_id IN (SELECT notification_id FROM due)"
    sql = (f"WITH due AS MATERIALIZED (SELECT notification_id FROM {DUE_TABLE} "  # noqa: S608
           f"WHERE due_at <= %s ORDER BY due_at LIMIT %s{lock}) "
           f"UPDATE {DUE_TABLE} SET due_at = %s WHERE {among_due} RETURNING notification_id")
    args = [now, int(limit), _lease(settings.NOTIFICATIONS_CLAIM_LEASE_SECONDS)]
    return [row[0] for row in run(sql, args)]  # one statement: atomic on its own


def _ids_in(ids: list[int]) -> tuple[str, list]:
    """`id IN (...)` for a list of ids (see statements.among)."""
    return among(f"{TABLE}.id", ids)


def _status_among(statuses, column: str = "status") -> tuple[str, list]:
    """`status IN (...)` for a statement that already names its rows by id.

    On PostgreSQL the statuses are wrapped in a scalar subquery so the planner cannot match the
    partial indexes whose predicate is a status (notif_due_idx, notif_lease_idx): their
    statistics lag behind rows that change status every second, so the planner would believe
    them nearly empty and scan every row in flight (100,000 during a large drain) instead of
    looking the ids up in the primary key.
    """
    statuses = list(statuses)
    if connection.vendor == "postgresql":
        return f"{column} = ANY((SELECT %s::varchar[])::varchar[])", [statuses]
    return f"{column} IN ({', '.join(['%s'] * len(statuses))})", statuses


def claim_ids(ids: list[int]) -> list[int]:
    """Claim those of `ids` that are waiting and due (in the task): `sending` with a claim lease,
    no attempt started. Their due-list entries go; an entry whose notification is not waiting
    any more goes too, and one whose notification waits for a later time gets that time back."""
    if not ids:
        return []
    now = timezone.now()
    where, id_args = _ids_in(ids)
    waiting, status_args = _status_among(WAITING_STATUSES)
    due_where, due_args = among("notification_id", ids)
    with transaction.atomic():
        claimed = [row[0] for row in run(
            f"UPDATE {TABLE} SET status = %s, lease_expires_at = %s, "  # noqa: S608
            f"attempt_started_at = NULL, updated_at = %s WHERE {where} "
            f"AND {waiting} AND send_at <= %s RETURNING id",
            [Status.SENDING, _lease(settings.NOTIFICATIONS_CLAIM_LEASE_SECONDS), now, *id_args,
             *status_args, now])]
        run(f"DELETE FROM {DUE_TABLE} WHERE {due_where}", due_args)  # noqa: S608
        if len(claimed) < len(ids):
            run(f"INSERT INTO {DUE_TABLE} (notification_id, due_at) "  # noqa: S608
                f"SELECT id, send_at FROM {TABLE} WHERE {where} AND {waiting} "
                "ON CONFLICT (notification_id) DO UPDATE SET due_at = excluded.due_at",
                [*id_args, *status_args])
    return claimed


def _chunks(ids, size):
    for i in range(0, len(ids), size):
        yield ids[i:i + size]


# A broker that is down must not hold the dispatcher for long: one quick retry, then the rows
# become `queueing_error` and the next run tries again.
_PUBLISH_RETRY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.5, "interval_max": 0.5}


def enqueue_ids(ids: list[int]) -> int:
    """Hand ids to Celery in chunks. If the broker is unreachable the rows become
    `queueing_error` and the next dispatcher run picks them up again."""
    from .tasks import notifications_deliver

    sent = 0
    chunks = list(_chunks(list(ids), int(settings.NOTIFICATIONS_TASK_CHUNK)))
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


def _backoff(attempts: int) -> timedelta:
    base = settings.NOTIFICATIONS_RETRY_BASE_SECONDS * (2 ** max(0, attempts - 1))
    return timedelta(seconds=min(base, 3600) * (1 + random.random() * 0.2))


def _sender(n: DueMessage, ctx: PolicyContext) -> str:
    if n.channel == Channel.EMAIL:
        return "email"
    s = ctx.settings.get(n.practice_id)
    if n.channel == Channel.SMS and s and s.twilio_messaging_service_sid:
        return s.twilio_messaging_service_sid
    if s and s.twilio_from_number:
        return s.twilio_from_number
    return settings.TWILIO_DEFAULT_FROM


def _event(pk, status, detail="", reason_code="") -> tuple:
    """A status event to write with `_events_write`: (notification id, status, reason, detail)."""
    return (pk, status, reason_code, detail[:500])


_EVENTS = NotificationEvent._meta.db_table


def _events_write(events: list[tuple]) -> None:
    """Insert a batch's status events (tuples from `_event`) in one multi-row INSERT: building
    a model instance per event costs more than the statement at thousands of messages a second."""
    if not events:
        return
    now = timezone.now()
    columns = f"INSERT INTO {_EVENTS} (notification_id, status, reason_code, detail, created_at) "
    if connection.vendor == "postgresql":
        # Four array parameters: the statement text is the same for every batch.
        sql = (columns + "SELECT u.*, %s FROM unnest(%s::bigint[], "  # noqa: S608
               "%s::varchar[], %s::varchar[], %s::varchar[]) AS u")
        ids, statuses, reasons, details = zip(*events, strict=True)
        params = [now, list(ids), list(statuses), list(reasons), list(details)]
    else:
        sql = columns + "VALUES " + ", ".join(["(%s, %s, %s, %s, %s)"] * len(events))
        params = [x for e in events for x in (*e, now)]
    run(sql, params)


def _update_if_owned(pk: int, started, **fields) -> bool:
    """UPDATE one `sending` row only while it is as this process left it: not attempted
    (`started` None) or in the attempt that began at `started`. Looked up by primary key (see
    _status_among); True if the row changed."""
    sending, status_args = _status_among([Status.SENDING])
    attempt, attempt_args = ("attempt_started_at IS NULL", []) if started is None else (
        "attempt_started_at = %s", [started])
    assignments = ", ".join(f"{name} = %s" for name in fields)
    return bool(run(f"UPDATE {TABLE} SET {assignments} WHERE id = %s AND {sending} "  # noqa: S608
                    f"AND {attempt} RETURNING id", [*fields.values(), pk, *status_args, *attempt_args]))


def _failed(n: DueMessage, started, exc: Exception, events: list) -> None:
    """Record a failed attempt, conditional on still owning that attempt."""
    now = timezone.now()
    attempts = n.attempts + 1
    error = str(exc)[:500]
    if isinstance(exc, PermanentError):
        status, send_at = Status.UNDELIVERABLE_PERMANENT, n.send_at
        detail = f"contact policy passed; permanent error, no retry: {error}"
        if exc.code == "21610":  # the carrier says this number replied STOP
            OptOut.objects.get_or_create(practice_id=n.practice_id, channel=n.channel,
                                         address=n.address,
                                         defaults={"source": OptOut.Source.PROVIDER})
    elif attempts >= settings.NOTIFICATIONS_MAX_ATTEMPTS:
        status, send_at = Status.DELIVERY_ERROR, n.send_at
        detail = f"temporary error on attempt {attempts}, no attempts left: {error}"
    else:
        status, send_at = Status.UNDELIVERABLE_RETRY, now + _backoff(attempts)
        detail = f"temporary error on attempt {attempts}, retry at {send_at:%H:%M:%S %Z}: {error}"
    # A retry clears attempt_started_at so that the next attempt can take the row again; the
    # take's sent_at goes too, as the provider took nothing (see _start_attempts).
    if _update_if_owned(
            n.pk, started, status=status, send_at=send_at, last_error=error, lease_expires_at=None,
            sent_at=None, attempt_started_at=None if status == Status.UNDELIVERABLE_RETRY else started,
            updated_at=now):
        events.append(_event(n.pk, status, detail))
        if status == Status.UNDELIVERABLE_RETRY:
            due_set([(n.pk, send_at)])


def _record_sent(sent: list[tuple[int, str]], started, events: list, sender: str) -> None:
    """Mark a batch sent in one statement, each row with its provider id.

    One event per attempt says both decisions: the contact policy passed, the provider took it.
    """
    if not sent:
        return
    now = timezone.now()
    # UPDATE ... FROM joins the batch's values once (a correlated subquery per row would scan
    # them per row); both PostgreSQL and SQLite (3.33+) speak it. On PostgreSQL the values are
    # two array parameters, so the statement text is the same for every batch.
    if connection.vendor == "postgresql":
        values = "SELECT * FROM unnest(%s::bigint[], %s::varchar[])"
        value_params = [[pk for pk, _ in sent], [pid for _, pid in sent]]
    else:
        values = "VALUES " + ", ".join(["(%s, %s)"] * len(sent))
        value_params = [x for pair in sent for x in pair]
    sending, sending_args = _status_among([Status.SENDING], f"{TABLE}.status")
    sql = (f"WITH v(id, pid) AS ({values}) "  # noqa: S608 - placeholders only
           f"UPDATE {TABLE} SET status = %s, provider_message_id = v.pid, "
           f"sent_at = %s, lease_expires_at = NULL, last_error = '', updated_at = %s "
           f"FROM v WHERE {TABLE}.id = v.id "
           f"AND {TABLE}.attempt_started_at = %s AND {sending} RETURNING {TABLE}.id")
    params = [*value_params, Status.SENT, now, now, started, *sending_args]
    recorded = {row[0] for row in run(sql, params)}
    events.extend(_event(pk, Status.SENT, f"contact policy passed; accepted by the provider via "
                         f"{sender}: {provider_id}") for pk, provider_id in sent if pk in recorded)


def _cap_lock_keys(rows: list[DueMessage]) -> list[int]:
    """One advisory-lock key per recipient (practice, kind, id), sorted so that every process
    takes them in the same order (no deadlock). A hash collision only serialises two recipients."""
    keys = set()
    for n in rows:
        digest = hashlib.blake2b(f"notif-cap:{n.practice_id}:{n.recipient_kind}:{n.recipient_id}"
                                 .encode(), digest_size=8).digest()
        keys.add(int.from_bytes(digest, "big", signed=True))
    return sorted(keys)


def _over_cap(batch: list[DueMessage], ctx: PolicyContext) -> list[DueMessage]:
    """The rows of `batch` that the frequency cap refuses, decided under per-recipient locks.

    Runs inside the take's transaction: a transaction-scoped advisory lock per recipient
    (PostgreSQL; SQLite's IMMEDIATE transactions already run one writer at a time) makes the
    count and the take one step, so two processes sending to one recipient at the same moment
    cannot both pass. The take writes `sent_at` on SMS and voice rows, so an attempt in flight
    counts like a send from the moment its take commits.
    """
    phone = [n for n in batch if n.channel in PHONE_CHANNELS]
    if not phone:
        return []
    if connection.vendor == "postgresql":
        # unnest keeps the array's (sorted) order, so the locks are taken in that order.
        run("SELECT pg_advisory_xact_lock(k) FROM unnest(%s::bigint[]) AS k", [_cap_lock_keys(phone)])
    counts = ctx.recent_sends(phone)
    over = []
    for n in phone:
        key = (n.practice_id, n.recipient_kind, n.recipient_id)
        if counts[key] >= ctx.cap(n.practice_id)[0]:
            over.append(n)
        else:
            counts[key] += 1
    return over


def _start_attempts(batch: list[DueMessage], sender: str, lease: int, ctx: PolicyContext,
                    events: list, summary: dict) -> tuple:
    """Take the rows of a batch for one attempt each; only rows this UPDATE changed may be sent.

    Rows the frequency cap refuses under the recipient locks become `will_not_send` instead.
    """
    started = timezone.now()
    with transaction.atomic():
        over = _over_cap(batch, ctx)
        for n in over:
            cap, days = ctx.cap(n.practice_id)
            decision = Decision("refuse", ReasonCode.FREQUENCY_CAP,
                                f"{cap} texts/calls in the last {days} days (cap {cap})")
            if _refuse(n, decision, events):
                summary["refused"] += 1
        if over:
            refused = {n.pk for n in over}
            batch = [n for n in batch if n.pk not in refused]
        if not batch:
            return started, []
        where, id_args = _ids_in([n.pk for n in batch])
        sending, sending_args = _status_among([Status.SENDING])
        taken = {row[0] for row in run(
                f"UPDATE {TABLE} SET attempt_started_at = %s, attempts = attempts + 1, "  # noqa: S608
                f"sender = %s, lease_expires_at = %s, updated_at = %s, "
                f"sent_at = CASE WHEN channel IN (%s, %s) THEN %s ELSE sent_at END WHERE {where} "
                f"AND {sending} AND attempt_started_at IS NULL RETURNING id",
                [started, sender[:80], started + timedelta(seconds=lease), started,
                 *PHONE_CHANNELS, started, *id_args, *sending_args])}
    return started, [n for n in batch if n.pk in taken]


def _refuse(n: DueMessage, decision, events: list) -> bool:
    """A claimed row whose send has not begun becomes `will_not_send` for the decision's reason."""
    if _update_if_owned(n.pk, None, status=Status.WILL_NOT_SEND, reason_code=decision.reason_code,
                        lease_expires_at=None, updated_at=timezone.now()):
        events.append(_event(n.pk, Status.WILL_NOT_SEND, decision.detail, decision.reason_code))
        return True
    return False


def _rows_to_deliver(ids: list[int]) -> list[DueMessage]:
    # By primary key alone (see _status_among), with one array parameter (see _ids_in); rows
    # that are not claimed-and-unattempted are dropped here.
    if connection.vendor == "postgresql":
        by_id = RawSQL(f"{TABLE}.id = ANY(%s)", [list(ids)], output_field=BooleanField())  # noqa: S611
        qs = Notification.objects.filter(by_id)
    else:
        qs = Notification.objects.filter(pk__in=ids)
    status_at, started_at = DELIVER_FIELDS.index("status"), DELIVER_FIELDS.index("attempt_started_at")
    found = [v for v in qs.order_by("send_at", "pk").values_list(*DELIVER_FIELDS)
             if v[status_at] == Status.SENDING and v[started_at] is None]
    practice_at = DELIVER_FIELDS.index("practice_id")
    practices = Practice.objects.in_bulk({v[practice_at] for v in found})
    return [DueMessage(v, practices[v[practice_at]]) for v in found]


def deliver(ids: list[int]) -> dict:
    """Send the given notifications that are due and not yet attempted (the Celery task body).

    Safe to run twice, concurrently, or after a reclaim: see the module docstring. Rows are
    attempted in small batches (NOTIFICATIONS_ATTEMPT_BATCH) to save database round trips; a
    worker killed mid-batch leaves at most that many rows for the reclaim rule.
    """
    claim_ids(ids)
    rows = _rows_to_deliver(ids)
    summary = {"sent": 0, "failed": 0, "refused": 0, "waiting": 0}
    if not rows:
        return summary
    ctx = PolicyContext(rows, timezone.now())
    events: list[tuple] = []
    groups: dict[tuple, list[DueMessage]] = {}
    for n in rows:
        decision = ctx.decide(n)
        if decision.action == "refuse":
            if _refuse(n, decision, events):
                summary["refused"] += 1
        elif decision.action == "wait":
            if _update_if_owned(n.pk, None, status=Status.QUEUED, send_at=decision.until,
                                lease_expires_at=None, updated_at=timezone.now()):
                due_set([(n.pk, decision.until)])
                events.append(_event(n.pk, Status.QUEUED, decision.detail))
                summary["waiting"] += 1
        else:
            ctx.record_sent(n)  # counts toward the cap for the rest of this chunk
            s = ctx.settings.get(n.practice_id)
            rate = rate_for(n.channel, s.rate_per_second if s else None)
            groups.setdefault((n.channel, _sender(n, ctx), rate), []).append(n)
    lease = send_lease_seconds()
    backends = {}
    try:
        for (channel, sender, rate), group in groups.items():
            backend = backends.get(channel) or backends.setdefault(channel, channel_open(channel))
            # A batch never exceeds a tenth of a second of the sender's rate, so reserving its
            # tokens at once cannot burst past the provider's limit.
            size = max(1, min(int(settings.NOTIFICATIONS_ATTEMPT_BATCH), int(rate / 10)))
            for batch in _chunks(group, size):
                sending_rate_acquire(sender=f"{channel}:{sender}", rate=rate, tokens=len(batch))
                started, taken = _start_attempts(batch, sender, lease, ctx, events, summary)
                sent = []
                for n in taken:
                    try:
                        sent.append((n.pk, backend.send(n, sender)))
                    except (TemporaryError, PermanentError) as exc:
                        _failed(n, started, exc, events)
                        summary["failed"] += 1
                    except Exception as exc:
                        logger.exception("notification %s: unexpected error from %s", n.pk, channel)
                        _failed(n, started, TemporaryError(f"unexpected error: {type(exc).__name__}"),
                                events)
                        summary["failed"] += 1
                _record_sent(sent, started, events, sender)
                summary["sent"] += len(sent)
                if len(events) >= 200:
                    _events_write(events)
                    events = []
    finally:
        _events_write(events)
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
                    due_set([(n.pk, n.send_at)])
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
                             send_at=now, sent_at=None, updated_at=now):
                due_set([(n.pk, now)])
                events.append(_event(n.pk, Status.QUEUED,
                                     "interrupted send never reached the provider: queued again"))
                summary["requeued"] += 1
    finally:
        _events_write(events)
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
        enqueued = enqueue_ids(ids)
        summary["enqueued"] += enqueued
        if enqueued < len(ids):
            break  # the broker is down: those rows are queueing_error until the next run
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
