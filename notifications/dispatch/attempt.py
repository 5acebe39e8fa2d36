"""Step 3 of a row's life: the contact policy, the sender's rate, the take, the provider call."""

import hashlib
import logging
from datetime import timedelta
from itertools import batched

from django.conf import settings
from django.db import connection, transaction
from django.db.models import BooleanField
from django.db.models.expressions import RawSQL
from django.utils import timezone

from practices.models import Practice

from ..channels import PermanentError, TemporaryError, channel_open
from ..contact_policy import PHONE_CHANNELS, Decision, PolicyContext
from ..due import due_set
from ..models import Channel, Notification, ReasonCode, Status
from ..sending_rate import rate_for, sending_rate_acquire
from ..sql import run, status_among
from .claim import TABLE, claim_ids, ids_in, send_lease_seconds
from .outcome import event, events_write, failed, record_sent, update_if_owned

logger = logging.getLogger(__name__)

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


def _sender(n: DueMessage, ctx: PolicyContext) -> str:
    if n.channel == Channel.EMAIL:
        return "email"
    s = ctx.settings.get(n.practice_id)
    if n.channel == Channel.SMS and s and s.twilio_messaging_service_sid:
        return s.twilio_messaging_service_sid
    if s and s.twilio_from_number:
        return s.twilio_from_number
    return settings.TWILIO_DEFAULT_FROM


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
        where, id_args = ids_in([n.pk for n in batch])
        sending, sending_args = status_among([Status.SENDING])
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
    if update_if_owned(n.pk, None, status=Status.WILL_NOT_SEND, reason_code=decision.reason_code,
                       lease_expires_at=None, updated_at=timezone.now()):
        events.append(event(n.pk, Status.WILL_NOT_SEND, decision.detail, decision.reason_code))
        return True
    return False


def _wait(n: DueMessage, decision, events: list) -> bool:
    """A claimed row whose send has not begun waits (quiet hours) until the decision's time."""
    with transaction.atomic():
        if not update_if_owned(n.pk, None, status=Status.QUEUED, send_at=decision.until,
                               lease_expires_at=None, updated_at=timezone.now()):
            return False
        due_set([(n.pk, decision.until)])
    events.append(event(n.pk, Status.QUEUED, decision.detail))
    return True


def _rows_to_deliver(ids: list[int]) -> list[DueMessage]:
    # By primary key alone (see sql.status_among), with one array parameter (see claim.ids_in);
    # rows that are not claimed-and-unattempted are dropped here.
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
    """Send the given notifications that are due and not yet attempted (the Celery task body,
    and `send_due`'s in its own process).

    Safe to run twice, concurrently, or after a reclaim: see the package docstring. Rows are
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
            if _wait(n, decision, events):
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
            for batch in batched(group, size, strict=False):
                sending_rate_acquire(sender=f"{channel}:{sender}", rate=rate, tokens=len(batch))
                started, taken = _start_attempts(list(batch), sender, lease, ctx, events, summary)
                sent = []
                for n in taken:
                    try:
                        sent.append((n.pk, backend.send(n, sender)))
                    except (TemporaryError, PermanentError) as exc:
                        failed(n, started, exc, events)
                        summary["failed"] += 1
                    except Exception as exc:
                        logger.exception("notification %s: unexpected error from %s", n.pk, channel)
                        failed(n, started, TemporaryError(f"unexpected error: {type(exc).__name__}"),
                               events)
                        summary["failed"] += 1
                record_sent(sent, started, events, sender)
                summary["sent"] += len(sent)
                if len(events) >= 200:
                    events_write(events)
                    events = []
    finally:
        events_write(events)
        for backend in backends.values():
            backend.close()
    return summary
