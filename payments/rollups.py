"""The analytics' day counts (models.LinkDay, models.PaymentDay), kept with the facts they count.

Each is written in the transaction of the fact, by the one service that records it:

- a link's first opening (quickpay.quickpay_open_record) and first payment
  (attribution.payment_attribute): its LinkDay opened or paid + 1, on the office day its message
  was queued (a link is minted in the transaction that queues its message);
- a payment's success (settlement): its PaymentDay + 1 payment and + its amount, on the office
  day it started; a refund: + what was refunded then.

An addition inserts the day's row or adds to it, in one statement (INSERT ... ON CONFLICT). Days
are office days in the office's time zone when the fact happened. `rollups_rebuild` counts an
office again from its links and payments (after a bulk load of either, or to check the counts).
"""

from datetime import date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import Case, Count, DecimalField, F, IntegerField, Q, Sum, Value, When
from django.db.models.functions import Coalesce, TruncDate

from .models import PAID_STATUSES, LinkDay, Payment, PaymentDay, QuickPayLink
from .models.rollups import NO_LEVEL

# Time to pay, in days: [low, high) for each bar of the distribution. A payment whose link no
# message carried (a front-desk QR code) waits in UNTIMED.
TIME_TO_PAY_BUCKETS = ((0, 1, "Under a day"), (1, 3, "1 to 2 days"), (3, 7, "3 to 6 days"),
                       (7, 14, "1 to 2 weeks"), (14, 28, "2 to 4 weeks"), (28, 56, "4 to 8 weeks"),
                       (56, None, "8 weeks or more"))
UNTIMED = len(TIME_TO_PAY_BUCKETS)


def office_day(moment: datetime, time_zone: str) -> date:
    return moment.astimezone(ZoneInfo(time_zone)).date()


def wait_bucket(waited: timedelta | None) -> int:
    if waited is None:
        return UNTIMED
    for n, (_low, high, _label) in enumerate(TIME_TO_PAY_BUCKETS):
        if high is None or waited < timedelta(days=high):
            return n
    return UNTIMED - 1


def _add(model, key: dict, **increments) -> None:
    """One statement, safe beside other writers of the same day (INSERT ... ON CONFLICT DO
    UPDATE, which PostgreSQL and SQLite both speak)."""
    table = model._meta.db_table
    columns = [model._meta.get_field(name).column for name in (*key, *increments)]
    unique = [model._meta.get_field(name).column for name in key]
    added = ", ".join(f"{model._meta.get_field(n).column} = {table}.{model._meta.get_field(n).column} "
                      f"+ excluded.{model._meta.get_field(n).column}" for n in increments)
    sql = (f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))}) "  # noqa: S608
           f"ON CONFLICT ({', '.join(unique)}) DO UPDATE SET {added}")
    with connection.cursor() as cursor:
        cursor.execute(sql, [*key.values(), *increments.values()])


def link_day_add(*, link: QuickPayLink, time_zone: str, opened: int = 0, paid: int = 0) -> None:
    _add(LinkDay, {"practice_id": link.practice_id, "day": office_day(link.created_at, time_zone),
                   "source": link.source, "channel": link.channel}, opened=opened, paid=paid)


def payment_key(payment: Payment, time_zone: str) -> dict:
    waited = (payment.succeeded_at - payment.first_message_at
              if payment.succeeded_at and payment.first_message_at else None)
    return {"practice_id": payment.practice_id, "day": office_day(payment.created_at, time_zone),
            "source": payment.source, "level": payment.dunning_level or NO_LEVEL,
            "follow_up": payment.follow_up, "channel": payment.channel, "wait": wait_bucket(waited)}


def payment_day_add(*, payment: Payment, time_zone: str, payments: int = 0, received=Decimal("0.00"),
                    refunded=Decimal("0.00")) -> None:
    _add(PaymentDay, payment_key(payment, time_zone), payments=payments, received=received, refunded=refunded)


def wait_bucket_expression():
    """wait_bucket() in SQL: a payment's bucket from its succeeded_at and first_message_at."""
    timed = Q(first_message_at__isnull=False) & Q(succeeded_at__isnull=False)
    return Case(When(~timed, then=Value(UNTIMED)),
                *(When(succeeded_at__lt=F("first_message_at") + timedelta(days=high), then=Value(n))
                  for n, (_low, high, _label) in enumerate(TIME_TO_PAY_BUCKETS) if high is not None),
                default=Value(UNTIMED - 1), output_field=IntegerField())


CURRENT = SimpleNamespace(QuickPayLink=QuickPayLink, Payment=Payment, LinkDay=LinkDay, PaymentDay=PaymentDay)


@transaction.atomic
def rollups_rebuild(*, practice, models: SimpleNamespace = CURRENT) -> tuple[int, int]:
    """Count the office's day rows again from its links and payments; (link days, payment days).
    `models` lets a migration pass its historical models."""
    models.LinkDay.objects.filter(practice_id=practice.pk).delete()
    models.PaymentDay.objects.filter(practice_id=practice.pk).delete()
    tz = ZoneInfo(practice.time_zone)
    opened, paid = Q(first_opened_at__isnull=False), Q(paid_at__isnull=False)
    links = (models.QuickPayLink.objects.filter(opened | paid, practice_id=practice.pk)
             .annotate(day=TruncDate("created_at", tzinfo=tz)).values_list("day", "source", "channel")
             .annotate(opened=Count("id", filter=opened), paid=Count("id", filter=paid)).order_by())
    link_days = models.LinkDay.objects.bulk_create(
        [models.LinkDay(practice_id=practice.pk, day=day, source=source, channel=channel, opened=o, paid=p)
         for day, source, channel, o, p in links], batch_size=2000)
    money = DecimalField(max_digits=14, decimal_places=2)
    payments = (models.Payment.objects.filter(practice_id=practice.pk, status__in=PAID_STATUSES)
                .annotate(day=TruncDate("created_at", tzinfo=tz), wait=wait_bucket_expression(),
                          level=Coalesce("dunning_level", Value(NO_LEVEL)))
                .values_list("day", "source", "level", "follow_up", "channel", "wait")
                .annotate(n=Count("id"),
                          received=Coalesce(Sum("amount"), Value(Decimal("0")), output_field=money),
                          refunded=Coalesce(Sum("amount_refunded"), Value(Decimal("0")), output_field=money))
                .order_by())
    payment_days = models.PaymentDay.objects.bulk_create(
        [models.PaymentDay(practice_id=practice.pk, day=day, source=source, level=level,
                           follow_up=follow_up, channel=channel, wait=wait, payments=n, received=received,
                           refunded=refunded)
         for day, source, level, follow_up, channel, wait, n, received, refunded in payments],
        batch_size=2000)
    return len(link_days), len(payment_days)
