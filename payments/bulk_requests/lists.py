"""The day's list: one row per practice and office day, due at the practice's hour, made once.

1. `request_lists_plan` gives each practice with online payments on a row for its office date
   today, due at its list hour (already past: made at the next run).
2. `request_lists_make_due` claims due rows one at a time (`FOR UPDATE SKIP LOCKED` on
   PostgreSQL, so two beat runs never make one list twice) and makes each in the same
   transaction: one INSERT ... SELECT of the guarantors who pass the eligibility rules, snoozes
   aside, numbered largest balance first.
3. Staff can make the day's list before its hour, or add the guarantors who became eligible
   since it was made (`request_list_make`, the same statement over those not on it yet); a PMS
   import whose claims settle adds its guarantors the same way.
"""

from datetime import date, datetime, time, timedelta

from django.db import connection, transaction
from django.db.models import Exists, F, Max, OuterRef, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from practices.models import Practice

from ..models import PaymentSettings, RequestHour, RequestList, RequestListEntry
from .eligibility import SNOOZE_RULE, Terms, eligible_guarantors

KEEP_DAYS = 14  # lists older than this are deleted with their entries


def list_due_at(practice, day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=practice.tz)


def _settings(practice) -> PaymentSettings:
    return PaymentSettings.objects.filter(practice=practice).first() or PaymentSettings(practice=practice)


def request_list_today(*, practice, today: date | None = None) -> RequestList | None:
    """The practice's list for its office date today, made or not (None before it is planned)."""
    today = today or timezone.localdate(timezone=practice.tz)
    return RequestList.objects.filter(practice=practice, day=today).first()


def _fill(request_list: RequestList, terms: Terms, among=None) -> int:
    """INSERT the eligible guarantors (snoozes aside) not yet on the list, after its last
    position, largest balance first. Returns how many were added."""
    qs = eligible_guarantors(terms=terms, skip=(SNOOZE_RULE,))
    start = 0
    if among is not None or request_list.size:
        qs = qs.exclude(Exists(RequestListEntry.objects.filter(request_list=request_list,
                                                               guarantor_id=OuterRef("id"))))
        start = (RequestListEntry.objects.filter(request_list=request_list)
                 .aggregate(m=Max("position"))["m"] or 0)
    if among is not None:
        qs = qs.filter(pk__in=among)
    numbered = qs.annotate(pos=Window(RowNumber(), order_by=[F("balance__total").desc(), F("id").asc()]))
    sql, params = numbered.values_list("id", "pos").query.sql_with_params()
    table = RequestListEntry._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} (request_list_id, guarantor_id, position) "  # noqa: S608 - our table
                       f"SELECT %s, e.id, e.pos + %s FROM ({sql}) e", [request_list.pk, start, *params])
        added = cursor.rowcount
    if added:
        RequestList.objects.filter(pk=request_list.pk).update(size=F("size") + added)
        request_list.size += added
    return added


@transaction.atomic
def request_list_make(*, practice, today: date | None = None, among=None) -> tuple[RequestList, int]:
    """Make the practice's list for today now (or add to it when it is made already): the
    list and how many guarantors were added. `among`: only these guarantor ids."""
    today = today or timezone.localdate(timezone=practice.tz)
    payment_settings = _settings(practice)
    request_list, _ = RequestList.objects.get_or_create(
        practice=practice, day=today,
        defaults={"due_at": list_due_at(practice, today, payment_settings.request_list_hour)})
    request_list = RequestList.objects.select_for_update().get(pk=request_list.pk)
    terms = Terms.of(practice, payment_settings, today=today)
    added = _fill(request_list, terms, among=among)
    if request_list.made_at is None:
        request_list.made_at = timezone.now()
        request_list.save(update_fields=["made_at"])
    return request_list, added


def request_list_entries_add(*, practice_id: int, guarantor_ids: list[int]) -> int:
    """Put these guarantors on today's list when it is made and they are now eligible (a snooze
    ended by the PMS, for one)."""
    practice = Practice.objects.get(pk=practice_id)
    request_list = request_list_today(practice=practice)
    if request_list is None or request_list.made_at is None or not guarantor_ids:
        return 0
    return request_list_make(practice=practice, among=list(guarantor_ids))[1]


def request_list_hour_set(*, practice, hour: int) -> None:
    """The practice chose another hour: a list not made yet is due then."""
    for request_list in RequestList.objects.filter(practice=practice, made_at__isnull=True):
        RequestList.objects.filter(pk=request_list.pk).update(
            due_at=list_due_at(practice, request_list.day, hour))


def request_lists_plan(now: datetime) -> int:
    """Give every practice with online payments a row for its office date today."""
    practices = list(Practice.objects.filter(addon_online_payments=True))
    days = {p.pk: timezone.localdate(now, timezone=p.tz) for p in practices}
    have = set(RequestList.objects.filter(practice__in=practices, day__in=set(days.values()))
               .values_list("practice_id", "day"))
    hours = dict(PaymentSettings.objects.filter(practice__in=practices).values_list("practice_id",
                                                                                    "request_list_hour"))
    default_hour = PaymentSettings._meta.get_field("request_list_hour").default
    missing = [RequestList(practice=p, day=days[p.pk], due_at=list_due_at(p, days[p.pk], hours.get(p.pk,
                                                                                                   default_hour)))
               for p in practices if (p.pk, days[p.pk]) not in have]
    RequestList.objects.bulk_create(missing, ignore_conflicts=True)
    return len(missing)


def request_lists_make_due(now: datetime) -> int:
    """Make every list whose time has come, each in its own transaction."""
    made = 0
    while True:
        with transaction.atomic():
            due = (RequestList.objects.select_for_update(skip_locked=True).select_related("practice")
                   .filter(made_at__isnull=True, due_at__lte=now).order_by("due_at").first())
            if due is None:
                return made
            terms = Terms.of(due.practice, _settings(due.practice), today=due.day)
            _fill(due, terms)
            due.made_at = timezone.now()
            due.save(update_fields=["made_at"])
            made += 1


def request_lists_tidy(now: datetime) -> None:
    RequestList.objects.filter(day__lt=(now - timedelta(days=KEEP_DAYS)).date()).delete()
    RequestHour.objects.filter(hour__lt=now - timedelta(days=2)).delete()
