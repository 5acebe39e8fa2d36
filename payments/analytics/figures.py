"""The analytics' figures, each from a selector that stays fast at a million notifications.

- Messages (sent, delivered, undeliverable) come from the outbox's counters
  (notifications/counts.py), by the quarter hour the messages were queued: never from the
  notifications themselves.
- Links opened and paid, and paid payments, come from day counts (models.LinkDay, PaymentDay,
  kept by payments/rollups.py with each opening, payment and refund): a year is a few hundred
  rows whatever the number of links and payments. Payments count on the office day they started,
  as the Payments received screen shows them, so its Received total for the same days is the
  same figure. The median time to pay sorts the range's paid payments (their own index).

The funnel follows the messages queued in the range: how many were sent and delivered, and how
many of the links they carried were opened and paid (at any time since). A link is minted in the
transaction that queues its message, so a message and its link share the range.
"""

from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import (
    Count,
    DecimalField,
    DurationField,
    ExpressionWrapper,
    F,
    Q,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, TruncDate

from notifications.counts import counted_in_periods
from notifications.models import OptOut, Status

from ..models import PAID_STATUSES, LinkChannel, LinkDay, LinkSource, Payment, PaymentDay
from ..models.rollups import NO_LEVEL
from ..rollups import TIME_TO_PAY_BUCKETS, UNTIMED
from .periods import Scope

ZERO = Decimal("0.00")
# A message counts as sent once the provider was asked to take it, whatever came of that.
SENT_STATUSES = (Status.SENT, Status.DELIVERED, Status.UNDELIVERABLE_RETRY, Status.UNDELIVERABLE_PERMANENT,
                 Status.DELIVERY_ERROR)
UNDELIVERABLE_STATUSES = (Status.UNDELIVERABLE_RETRY, Status.UNDELIVERABLE_PERMANENT)

def source_kinds() -> dict[str, str]:
    """Outbox kind -> link source (settings.ANALYTICS_SOURCE_KINDS)."""
    return {kind: source for source, kinds in settings.ANALYTICS_SOURCE_KINDS.items() for kind in kinds}


def _in_range(scope: Scope, moment: str) -> Q:
    """Rows of the scope's offices whose `moment` falls in each office's own days."""
    q = Q(pk__in=[])
    for practice in scope.practices:
        start, end = scope.bounds(practice)
        q |= Q(practice=practice, **{f"{moment}__gte": start, f"{moment}__lt": end})
    return q


# --- collected through QuickPay ---


@dataclass(frozen=True)
class SourceLine:
    """A row of "collected by source": a source, with the statement's dunning level or whether
    a payment request's message was a follow-up."""

    source: str  # a LinkSource value, or "" for a payment whose link is gone
    level: int | None = None
    follow_up: bool | None = None

    @property
    def label(self) -> str:
        if self.source == LinkSource.STATEMENT:
            return "Statement" if self.level is None else f"Statement, level {self.level}"
        if self.source == LinkSource.PAYMENT_REQUEST:
            return "Payment request follow-ups" if self.follow_up else "Payment request"
        if self.source == LinkSource.MANUAL:
            return "Front desk (QR code)"
        if self.source in LinkSource.values:
            return LinkSource(self.source).label
        return "Link no longer kept"

    @property
    def sort_key(self) -> tuple:
        order = [*LinkSource.values, ""]
        return (order.index(self.source) if self.source in order else len(order),
                self.level if self.level is not None else -1, bool(self.follow_up))


@dataclass
class Money:
    payments: int = 0
    received: Decimal = ZERO
    refunded: Decimal = ZERO

    @property
    def net(self) -> Decimal:
        return self.received - self.refunded

    def add(self, other: "Money") -> None:
        self.payments += other.payments
        self.received += other.received
        self.refunded += other.refunded


@dataclass
class Collected:
    by_source: dict[SourceLine, Money] = field(default_factory=dict)
    by_channel: dict[str, Money] = field(default_factory=dict)  # a LinkChannel value, or ""
    total: Money = field(default_factory=Money)


def _sum(name: str):
    return Coalesce(Sum(name), Value(ZERO), output_field=DecimalField())


def _paid(scope: Scope):
    """The paid payments started in the range, each with how long it waited from its series'
    first message (`waited`)."""
    return Payment.objects.filter(_in_range(scope, "created_at"), status__in=PAID_STATUSES).annotate(
        waited=ExpressionWrapper(F("succeeded_at") - F("first_message_at"), output_field=DurationField()))


def _days(scope: Scope) -> Q:
    """Day counts of the scope's offices and days (each office's own days)."""
    return Q(practice__in=scope.practices, day__gte=scope.date_from, day__lte=scope.date_to)


@dataclass
class PaidInRange:
    collected: Collected
    waits: Counter  # bucket of TIME_TO_PAY_BUCKETS (or UNTIMED) -> payments


def paid_in_range(*, scope: Scope) -> PaidInRange:
    """The range's paid payments, from their day counts (models.PaymentDay): by what they are
    attributed to (the source, level and channel of the message that carried the paid link, and
    whether it was a follow-up) and by how long they waited."""
    rows = (PaymentDay.objects.filter(_days(scope))
            .values_list("source", "level", "follow_up", "channel", "wait")
            .annotate(n=Sum("payments"), received=_sum("received"), refunded=_sum("refunded")).order_by())
    found = PaidInRange(Collected(), Counter())
    result = found.collected
    for source, level, follow_up, channel, wait, n, received, refunded in rows:
        money = Money(n, received, refunded)
        statement_level = level if source == LinkSource.STATEMENT and level != NO_LEVEL else None
        line = SourceLine(source, statement_level,
                          follow_up if source == LinkSource.PAYMENT_REQUEST else None)
        result.by_source.setdefault(line, Money()).add(money)
        result.by_channel.setdefault(channel, Money()).add(money)
        result.total.add(money)
        found.waits[wait] += n
    result.by_source = dict(sorted(result.by_source.items(), key=lambda item: item[0].sort_key))
    channels = [*LinkChannel.values, ""]
    result.by_channel = dict(sorted(result.by_channel.items(), key=lambda item: channels.index(item[0])))
    return found


def collected(*, scope: Scope, paid: PaidInRange | None = None) -> Collected:
    """Paid payments started in the range by source (and level, or follow-up) and by channel."""
    return (paid or paid_in_range(scope=scope)).collected


# --- the funnel ---


@dataclass
class FunnelRow:
    source: str
    channel: str
    sent: int = 0
    delivered: int = 0
    opened: int = 0
    paid: int = 0


def links_opened_and_paid(*, scope: Scope) -> dict[tuple[str, str], tuple[int, int]]:
    """(source, channel) -> (opened, paid) among the links of the messages queued in the range,
    from their day counts (models.LinkDay)."""
    rows = (LinkDay.objects.filter(_days(scope)).values_list("source", "channel")
            .annotate(opened=Sum("opened"), paid=Sum("paid")).order_by())
    return {(source, channel): (opened, paid) for source, channel, opened, paid in rows}


def funnel(*, scope: Scope) -> list[FunnelRow]:
    """Per source and channel: messages queued in the range that were sent, delivered, and whose
    links were opened, and paid."""
    kinds = source_kinds()
    messages = counted_in_periods(edges={p.pk: list(scope.bounds(p)) for p in scope.practices},
                                  where={"kind__in": list(kinds)}, by=("kind", "channel", "status"))
    rows: dict[tuple[str, str], FunnelRow] = {}

    def row(source, channel) -> FunnelRow:
        return rows.setdefault((source, channel), FunnelRow(source, channel))

    for (_period, kind, channel, status), n in messages.items():
        if status in SENT_STATUSES and n:
            target = row(kinds[kind], channel)
            target.sent += n
            if status == Status.DELIVERED:
                target.delivered += n
    for (source, channel), (opened, paid) in links_opened_and_paid(scope=scope).items():
        if opened or paid:
            target = row(source, channel)
            target.opened, target.paid = opened, paid
    sources, channels = LinkSource.values, LinkChannel.values
    return sorted(rows.values(), key=lambda r: (sources.index(r.source) if r.source in sources else 99,
                                                channels.index(r.channel) if r.channel in channels else 99))


# --- time to pay ---


@dataclass(frozen=True)
class TimeToPay:
    payments: int  # paid payments in the range whose link came in a message that was sent
    median: timedelta | None
    buckets: list[tuple[str, int]]
    without_message: int  # paid payments through a front-desk link (no message to count from)


def time_to_pay(*, scope: Scope, paid: PaidInRange | None = None) -> TimeToPay:
    """From the first message of the paid link's series (the statement's cadence, the request
    and its follow-ups, an on-demand send) to the payment: median and distribution."""
    waits = Counter((paid or paid_in_range(scope=scope)).waits)
    without_message = waits.pop(UNTIMED, 0)
    total = sum(waits.values())
    median = None
    if total:
        timed = _paid(scope).filter(first_message_at__isnull=False, succeeded_at__isnull=False)
        ordered = timed.order_by("waited").values_list("waited", flat=True)
        middle = list(ordered[(total - 1) // 2:total // 2 + 1])
        median = sum(middle, timedelta()) / len(middle)
    buckets = [(label, waits.get(n, 0)) for n, (_low, _high, label) in enumerate(TIME_TO_PAY_BUCKETS)]
    return TimeToPay(payments=total, median=median, buckets=buckets, without_message=without_message)


# --- delivery health over time ---


@dataclass
class DeliveryRow:
    period: int
    channel: str
    sent: int = 0
    delivered: int = 0
    undeliverable: int = 0
    opted_out: int = 0


def delivery(*, scope: Scope) -> list[DeliveryRow]:
    """Per period and channel: outreach messages sent, delivered and undeliverable (counters, by
    the time they were queued), and addresses that opted out (STOP, unsubscribe, bounce or
    complaint, staff) in that period."""
    kinds = list(source_kinds())
    messages = counted_in_periods(edges={p.pk: scope.edges(p) for p in scope.practices},
                                  where={"kind__in": kinds}, by=("channel", "status"))
    rows: dict[tuple[int, str], DeliveryRow] = {}
    for (period, channel, status), n in messages.items():
        if status in SENT_STATUSES and n:
            target = rows.setdefault((period, channel), DeliveryRow(period, channel))
            target.sent += n
            target.delivered += n if status == Status.DELIVERED else 0
            target.undeliverable += n if status in UNDELIVERABLE_STATUSES else 0
    for (period, channel), n in _opt_outs(scope).items():
        rows.setdefault((period, channel), DeliveryRow(period, channel)).opted_out += n
    channels = LinkChannel.values
    return sorted(rows.values(), key=lambda r: (r.period, channels.index(r.channel)
                                                if r.channel in channels else 99))


def _opt_outs(scope: Scope) -> Counter:
    """Opt-outs per (period, channel): counted per office day in SQL, each day then put in its
    period here (a CASE per period costs more to build than to run)."""
    counts = Counter()
    for practice in scope.practices:
        start, end = scope.bounds(practice)
        starts = [period.start for period in scope.periods]
        rows = (OptOut.objects.filter(practice=practice, created_at__gte=start, created_at__lt=end)
                .annotate(day=TruncDate("created_at", tzinfo=practice.tz))
                .values_list("day", "channel").annotate(n=Count("id")).order_by())
        for day, channel, n in rows:
            counts[(bisect_right(starts, day) - 1, channel)] += n
    return counts
