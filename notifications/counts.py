"""The history's counts per status, read from counters instead of counting every notification.

The database keeps them (notifications/triggers.py): every statement that writes notifications
adds its +/- changes to NotificationCountChange, per quarter hour of creation; the due-work job
`notification_counts_compact` folds those into NotificationCount at three spans (a quarter
hour, a day, 32 days). A count over a range of creation times is then the sum of a few rows:

1. the range's ends are cut to whole quarter hours (a day in any office's time zone starts on
   one: every zone's offset from UTC is a whole number of quarter hours), and what lies outside
   them, if anything, is counted from the notifications themselves (a part of a quarter hour);
2. the whole quarter hours are covered with the largest buckets that fit: quarter hours up to
   the first whole day, days up to the first whole 32 days, and so on back from the end
   (`spans_covering`), about 250 bucket rows per combination at most, whatever the history;
3. changes not folded in yet are added, by their quarter hour.
"""

from collections import Counter
from datetime import datetime
from itertools import pairwise

from django.db import connection, transaction
from django.db.models import Case, IntegerField, Q, Sum, Value, When
from django.db.models.expressions import RawSQL

from .models import NotificationCount, NotificationCountChange
from .sql import run

QUARTER = 900
SPANS = (QUARTER, 86400, 32 * 86400)
COMPACT_CHUNK = 50_000

_COUNT = NotificationCount._meta.db_table
_CHANGE = NotificationCountChange._meta.db_table
_KEY = "practice_id, span, bucket, status, channel, kind, archived"
_FOLD = (f"INSERT INTO {_COUNT} ({_KEY}, n) "  # noqa: S608 - table names only
         "SELECT c.practice_id, s.span, c.bucket / s.span * s.span, c.status, c.channel, c.kind, "
         "c.archived, SUM(c.n) FROM {changes} c CROSS JOIN ({spans}) s {where}"
         "GROUP BY 1, 2, 3, 4, 5, 6, 7 HAVING SUM(c.n) <> 0 ORDER BY 1, 2, 3, 4, 5, 6, 7 "
         f"ON CONFLICT ({_KEY}) DO UPDATE SET n = {_COUNT}.n + excluded.n")
_SPANS_SQL = " UNION ALL ".join(f"SELECT {span} AS span" for span in SPANS)
_COMPACT_LOCK = 0x6E6F7469636F756E  # any constant: one compaction at a time


def notification_counts_compact() -> dict:
    """DUE_WORK job: fold the counts' pending changes into the counters; say how many.

    On PostgreSQL the changes are taken with DELETE ... RETURNING, so a change is folded exactly
    once even while writers add more (one that commits later is left for the next run), and an
    advisory lock keeps a second compaction from waiting on the first. SQLite has one writer at
    a time: the changes up to the highest id are folded, then deleted, in one transaction.
    """
    folded = 0
    while True:
        with transaction.atomic():
            if connection.vendor == "postgresql":
                if not run("SELECT pg_try_advisory_xact_lock(%s)", [_COMPACT_LOCK])[0][0]:
                    return {"folded": folded, "busy": True}
                moved = (f"(DELETE FROM {_CHANGE} WHERE id IN (SELECT id FROM {_CHANGE} "  # noqa: S608
                         f"ORDER BY id LIMIT {COMPACT_CHUNK}) RETURNING *)")
                fold = _FOLD.format(changes="moved", spans=_SPANS_SQL, where="")
                count = run(f"WITH moved AS {moved}, folded AS ({fold}) "  # noqa: S608
                            "SELECT count(*) FROM moved", [])[0][0]
                folded += count
                if count < COMPACT_CHUNK:
                    break
            else:
                ids = run(f"SELECT id FROM {_CHANGE} ORDER BY id LIMIT {COMPACT_CHUNK}", [])  # noqa: S608
                if not ids:
                    break
                last = ids[-1][0]
                run(_FOLD.format(changes=_CHANGE, spans=_SPANS_SQL, where="WHERE c.id <= %s "), [last])
                run(f"DELETE FROM {_CHANGE} WHERE id <= %s", [last])  # noqa: S608
                folded += len(ids)
                if len(ids) < COMPACT_CHUNK:
                    break
    return {"folded": folded}


def spans_covering(start: int | None, end: int | None) -> list[tuple[int, int | None, int | None]]:
    """(span, from, to) ranges of whole buckets that together cover [start, end) exactly,
    finest at the edges; both ends are multiples of a quarter hour, None for no bound."""
    ranges = []
    low, high = start, end
    for span, bigger in pairwise(SPANS):
        low_up = None if low is None else -(-low // bigger) * bigger
        high_down = None if high is None else high // bigger * bigger
        if low is not None and high is not None and low_up >= high_down:
            return [*ranges, (span, low, high)]
        if low is not None and low < low_up:
            ranges.append((span, low, low_up))
        if high is not None and high_down < high:
            ranges.append((span, high_down, high))
        low, high = low_up, high_down
    return [*ranges, (SPANS[-1], low, high)]


def _between(field: str, low: int | None, high: int | None) -> Q:
    q = Q()
    if low is not None:
        q &= Q(**{f"{field}__gte": low})
    if high is not None:
        q &= Q(**{f"{field}__lt": high})
    return q


def _epoch(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


def counted(*, practice_id: int, where: dict, start: datetime | None,
            end: datetime | None, exact) -> Counter:
    """Notifications per status among a practice's rows created in [start, end) that match
    `where` (lookups on status, channel, kind, archived). `exact(start, end)` counts per status
    from the notifications themselves, for the parts of quarter hours at the range's ends."""
    low, high = _epoch(start), _epoch(end)
    whole_low = None if low is None else -(-int(low) // QUARTER) * QUARTER
    whole_high = None if high is None else int(high) // QUARTER * QUARTER
    totals = Counter()
    if whole_low is not None and whole_high is not None and whole_low >= whole_high:
        return exact(start, end)  # less than a whole quarter hour
    if low is not None and low < whole_low:
        totals += exact(start, datetime.fromtimestamp(whole_low, start.tzinfo))
    if high is not None and whole_high < high:
        totals += exact(datetime.fromtimestamp(whole_high, end.tzinfo), end)
    buckets = Q()
    for span, span_low, span_high in spans_covering(whole_low, whole_high):
        buckets |= Q(span=span) & _between("bucket", span_low, span_high)
    for model, in_range in ((NotificationCount, buckets),
                            (NotificationCountChange, _between("bucket", whole_low, whole_high))):
        rows = (model.objects.filter(in_range, practice_id=practice_id, **where)
                .values_list("status").annotate(total=Sum("n")).order_by())
        totals.update(dict(rows))
    return totals


def _whole_quarter(moment: datetime) -> int:
    """A period's edge in seconds since 1970, down to its quarter hour (an office's midnight is
    one already; see the module's docstring)."""
    return int(moment.timestamp()) // QUARTER * QUARTER


def _merged(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Ranges that touch or overlap joined into one: fewer conditions for the same buckets."""
    joined: list[tuple[int, int]] = []
    for low, high in sorted(ranges):
        if joined and low <= joined[-1][1]:
            joined[-1] = (joined[-1][0], max(joined[-1][1], high))
        else:
            joined.append((low, high))
    return joined


def _period_of(edges: list[int]):
    """The index of the period whose [edges[i], edges[i + 1]) holds a row's bucket: a binary
    search in PostgreSQL (width_bucket), a CASE elsewhere."""
    if connection.vendor == "postgresql":
        return RawSQL("width_bucket(bucket, %s::bigint[]) - 1", (edges,), output_field=IntegerField())
    return Case(*(When(bucket__gte=low, bucket__lt=high, then=Value(n))
                  for n, (low, high) in enumerate(pairwise(edges))), output_field=IntegerField())


def counted_in_periods(*, edges: dict[int, list[datetime]], where: dict, by: tuple[str, ...]) -> Counter:
    """Notifications per (period, *by) among the rows created in each practice's periods, where
    `edges` gives, per practice id, the n + 1 edges of its n periods (period i is [edges[i],
    edges[i + 1]), on whole quarter hours) and `by` names dimensions of the counters (status,
    channel, kind, archived).

    Two queries, whatever the number of offices and periods. Each period is covered exactly by
    buckets (`spans_covering`), so every counter row read lies in one period, found from its
    bucket's start; the ranges of one span that touch across periods are read as one.
    """
    parts = []
    for practice_id, moments in edges.items():
        quarters = [_whole_quarter(moment) for moment in moments]
        covering: dict[int, list] = {}
        for low, high in pairwise(quarters):
            if low < high:
                for span, span_low, span_high in spans_covering(low, high):
                    if span_low < span_high:
                        covering.setdefault(span, []).append((span_low, span_high))
        counters = Q(pk__in=[])
        for span, ranges in covering.items():
            for low, high in _merged(ranges):
                counters |= Q(span=span, bucket__gte=low, bucket__lt=high)
        parts.append((practice_id, quarters, counters, _between("bucket", quarters[0], quarters[-1])))
    totals = Counter()
    if not parts:
        return totals
    for model, condition in ((NotificationCount, 2), (NotificationCountChange, 3)):
        anywhere = Q(pk__in=[])
        for part in parts:
            anywhere |= Q(practice_id=part[0]) & part[condition]
        period = (_period_of(parts[0][1]) if len(parts) == 1 else
                  Case(*(When(practice_id=part[0], then=_period_of(part[1])) for part in parts),
                       output_field=IntegerField()))
        rows = (model.objects.filter(anywhere, **where).annotate(period=period)
                .values_list("period", *by).annotate(total=Sum("n")).order_by())
        for *key, total in rows:
            totals[tuple(key)] += total
    return totals
