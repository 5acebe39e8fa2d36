"""The analytics' figures, each from a selector that stays fast at a million notifications.

- Messages (sent, delivered, undeliverable) come from the outbox's counters
  (notifications/counts.py), by the quarter hour the messages were queued: never from the
  notifications themselves.
- Links opened and links paid come from two partial indexes of the links (only opened, only
  paid links), read from the index alone on PostgreSQL.
- Payments (a year of a busy office is tens of thousands) are read by the payments' index on
  (practice, created_at), as the Payments received screen reads them, so its Received total for
  the same days is the same figure.

The funnel follows the messages queued in the range: how many were sent and delivered, and how
many of the links they carried were opened and paid (at any time since). A link is minted in the
transaction that queues its message, so a message and its link share the range.
"""

from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from itertools import pairwise

from django.conf import settings
from django.db.models import (
    BooleanField,
    Case,
    Count,
    DecimalField,
    DurationField,
    ExpressionWrapper,
    F,
    IntegerField,
    Q,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from notifications.counts import counted_in_periods
from notifications.models import OptOut, Status

from ..models import PAID_STATUSES, LinkChannel, LinkSource, Payment, QuickPayLink
from .periods import Scope

ZERO = Decimal("0.00")
# A message counts as sent once the provider was asked to take it, whatever came of that.
SENT_STATUSES = (Status.SENT, Status.DELIVERED, Status.UNDELIVERABLE_RETRY, Status.UNDELIVERABLE_PERMANENT,
                 Status.DELIVERY_ERROR)
UNDELIVERABLE_STATUSES = (Status.UNDELIVERABLE_RETRY, Status.UNDELIVERABLE_PERMANENT)
# A payment request's messages are keyed payreq:<campaign>:<attempt>:<step>; step 0 is the
# request, the others its follow-ups.
REQUEST_KEY_SUFFIX = ":0"
# Time to pay, in days: [low, high) for each bar of the distribution.
TIME_TO_PAY_BUCKETS = ((0, 1, "Under a day"), (1, 3, "1 to 2 days"), (3, 7, "3 to 6 days"),
                       (7, 14, "1 to 2 weeks"), (14, 28, "2 to 4 weeks"), (28, 56, "4 to 8 weeks"),
                       (56, None, "8 weeks or more"))


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


def collected(*, scope: Scope) -> Collected:
    """Paid payments started in the range, by the source, level and channel of the message that
    carried the paid link (one query)."""
    follow_up = Case(
        When(~Q(link__source=LinkSource.PAYMENT_REQUEST), then=Value(None)),
        When(link__notification_key__endswith=REQUEST_KEY_SUFFIX, then=Value(False)),
        default=Value(True), output_field=BooleanField(null=True))
    level = Case(When(link__source=LinkSource.STATEMENT, then=F("link__dunning_level")),
                 default=Value(None), output_field=IntegerField(null=True))
    rows = (Payment.objects.filter(_in_range(scope, "created_at"), status__in=PAID_STATUSES)
            .annotate(line_level=level, line_follow_up=follow_up)
            .values_list("link__source", "line_level", "line_follow_up", "link__channel")
            .annotate(n=Count("id"), received=_sum("amount"), refunded=_sum("amount_refunded"))
            .order_by())
    result = Collected()
    for source, line_level, line_follow_up, channel, n, received, refunded in rows:
        money = Money(n, received, refunded)
        line = SourceLine(source or "", line_level, line_follow_up)
        result.by_source.setdefault(line, Money()).add(money)
        result.by_channel.setdefault(channel or "", Money()).add(money)
        result.total.add(money)
    result.by_source = dict(sorted(result.by_source.items(), key=lambda item: item[0].sort_key))
    channels = [*LinkChannel.values, ""]
    result.by_channel = dict(sorted(result.by_channel.items(), key=lambda item: channels.index(item[0])))
    return result


# --- the funnel ---


@dataclass
class FunnelRow:
    source: str
    channel: str
    sent: int = 0
    delivered: int = 0
    opened: int = 0
    paid: int = 0


def _links_counted(scope: Scope, marked: str) -> Counter:
    """Links of the range's messages that were opened (marked="first_opened_at") or paid
    ("paid_at"), by source and channel: a partial index each, one office at a time so that each
    read is one index range."""
    counts = Counter()
    for practice in scope.practices:
        start, end = scope.bounds(practice)
        rows = (QuickPayLink.objects.filter(practice=practice, created_at__gte=start, created_at__lt=end,
                                            **{f"{marked}__isnull": False})
                .values_list("source", "channel").annotate(n=Count("*")).order_by())
        for source, channel, n in rows:
            counts[(source, channel)] += n
    return counts


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
    for (source, channel), n in _links_counted(scope, "first_opened_at").items():
        row(source, channel).opened += n
    for (source, channel), n in _links_counted(scope, "paid_at").items():
        row(source, channel).paid += n
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


def time_to_pay(*, scope: Scope) -> TimeToPay:
    """From the first message of the paid link's series (the statement's cadence, the request
    and its follow-ups, an on-demand send) to the payment: median and distribution."""
    paid = Payment.objects.filter(_in_range(scope, "created_at"), status__in=PAID_STATUSES)
    timed = paid.filter(first_message_at__isnull=False, succeeded_at__isnull=False).annotate(
        waited=ExpressionWrapper(F("succeeded_at") - F("first_message_at"), output_field=DurationField()))
    bucket = Case(*(When(waited__lt=timedelta(days=high), then=Value(n))
                    for n, (_low, high, _label) in enumerate(TIME_TO_PAY_BUCKETS) if high is not None),
                  default=Value(len(TIME_TO_PAY_BUCKETS) - 1), output_field=IntegerField())
    counts = dict(timed.annotate(bucket=bucket).values_list("bucket").annotate(n=Count("id")).order_by())
    total = sum(counts.values())
    median = None
    if total:
        middle = list(timed.order_by("waited", "pk").values_list("waited", flat=True)
                      [(total - 1) // 2:total // 2 + 1])
        median = sum(middle, timedelta()) / len(middle)
    buckets = [(label, counts.get(n, 0)) for n, (_low, _high, label) in enumerate(TIME_TO_PAY_BUCKETS)]
    return TimeToPay(payments=total, median=median, buckets=buckets,
                     without_message=paid.filter(first_message_at__isnull=True).count())


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
    whens = []
    for practice in scope.practices:
        edges = scope.edges(practice)
        whens += [When(practice=practice, created_at__gte=start, created_at__lt=end, then=Value(n))
                  for n, (start, end) in enumerate(pairwise(edges))]
    rows = (OptOut.objects.filter(_in_range(scope, "created_at"))
            .annotate(period=Case(*whens, output_field=IntegerField()))
            .values_list("period", "channel").annotate(n=Count("id")).order_by())
    return Counter({(period, channel): n for period, channel, n in rows})

