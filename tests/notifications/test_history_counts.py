"""The history's counts per status come from counters the database keeps: they must equal a count
of the rows the list shows, for every filter, whoever wrote the rows and however."""

import io
from collections import Counter
from datetime import date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.db.models import Count
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notifications import dispatch
from notifications.counts import counted_in_periods, notification_counts_compact, spans_covering
from notifications.forms import NotificationFilterForm
from notifications.models import (
    Notification,
    NotificationCount,
    NotificationCountChange,
    ReasonCode,
    Status,
)
from notifications.selectors import _by_status, notification_list, status_counts
from notifications.services import (
    Recipient,
    notification_archive,
    notification_cancel,
    notification_retry,
    notifications_bulk_action,
)

# Offices east and west of UTC, on half and three-quarter hours: their days start on the quarter
# hours the counters are cut in.
ZONES = ["America/Chicago", "Asia/Kathmandu", "Asia/Kolkata", "America/St_Johns", "Pacific/Chatham"]
TABLE = Notification._meta.db_table


def _filters(tz, **data):
    form = NotificationFilterForm({k: v for k, v in data.items() if v})
    assert form.is_valid(), form.errors
    return form.filters(ZoneInfo(tz))


def _assert_counts_match_rows(practice, tz, **data):
    filters = _filters(tz, **data)
    for view in ("history", "queue", "errors"):
        shown = _by_status(notification_list(practice=practice, view=view, filters=filters))
        counted = Counter({c["status"]: c["count"] for c in status_counts(
            practice=practice, view=view, filters=filters) if c["status"]})
        assert counted == +shown, (view, data, tz)


def _assert_periods_match_rows(practice, tz, days: int, step: int):
    """Counts per period (office days of `step` days, back `days` days from tomorrow) and per
    status, channel and kind, read from the counters in one go, equal the rows of each period."""
    zone = ZoneInfo(tz)
    tomorrow = timezone.localdate(timezone.now(), zone) + timedelta(days=1)
    edges = [datetime.combine(tomorrow - timedelta(days=back), time(), zone)
             for back in range(days, -1, -step)]
    counted = counted_in_periods(edges={practice.pk: edges}, where={}, by=("status", "channel", "kind"))
    rows = Counter()
    for period, (start, end) in enumerate(pairwise(edges)):
        for status, channel, kind, n in (Notification.objects.filter(
                practice=practice, created_at__gte=start, created_at__lt=end)
                .values_list("status", "channel", "kind").annotate(n=Count("id")).order_by()):
            rows[(period, status, channel, kind)] = n
    assert +counted == rows, (tz, step)


def _spread_creation_times(practice):
    """Move each row's creation time to its own place over the last 40 days, some on the very
    quarter-hour and midnight boundaries the counters are cut at."""
    now = timezone.now().replace(second=0, microsecond=0)
    for i, pk in enumerate(Notification.objects.filter(practice=practice).order_by("pk")
                           .values_list("pk", flat=True)):
        if i % 5 == 0:
            at = now.replace(minute=0) - timedelta(days=i % 40, minutes=15 * (i % 7))
        else:
            at = now - timedelta(days=i % 40, hours=i % 24, minutes=(i * 37) % 60, seconds=i % 59)
        Notification.objects.filter(pk=pk).update(created_at=at)


def _raw_writes(practice):
    """What set-based writers do: INSERT ... SELECT, UPDATE and DELETE in SQL, and COPY."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {TABLE} (practice_id, recipient_kind, recipient_id, recipient_name, "  # noqa: S608
            "recipient_time_zone, consent, channel, address, kind, reason, addon, subject, body, "
            "html_body, template_name, template_version, idempotency_key, send_at, first_due_at, "
            "status, reason_code, attempts, sender, provider_message_id, last_error, archived, "
            "created_at, updated_at) "
            "SELECT %s, 'patient', g, 'Bulk ' || g, '', true, 'email', 'b' || g || '@example.test', "
            "'statement', '', '', 's', 'b', '', '', '', 'bulk-' || g, now(), now(), "
            "CASE WHEN g %% 3 = 0 THEN 'delivered' ELSE 'queued' END, '', 0, '', '', '', g %% 4 = 0, "
            "now() - g * interval '97 minutes', now() FROM generate_series(1, 60) AS g",
            [practice.pk])
        cursor.execute(f"UPDATE {TABLE} SET status = 'cancelled' WHERE practice_id = %s "  # noqa: S608
                       "AND idempotency_key LIKE 'bulk-1%%'", [practice.pk])
        cursor.execute(f"DELETE FROM {TABLE} WHERE practice_id = %s AND idempotency_key LIKE 'bulk-2%%'",  # noqa: S608
                       [practice.pk])
    rows = io.StringIO("".join(
        f"{practice.pk}\tpatient\t{i}\tCopied {i}\t\tt\tsms\t+1555000{i:04d}\tdunning\t\t\t\tb\t\t\t\t"
        f"copy-{i}\t2026-01-01 00:00:00+00\t\\N\tsent\t\t1\t\t\t\tf\t"
        f"2026-01-0{1 + i % 5} 0{i % 10}:00:00+00\t2026-01-01 00:00:00+00\n" for i in range(25)))
    columns = ("practice_id, recipient_kind, recipient_id, recipient_name, recipient_time_zone, consent, "
               "channel, address, kind, reason, addon, subject, body, html_body, template_name, "
               "template_version, idempotency_key, send_at, first_due_at, status, reason_code, attempts, "
               "sender, provider_message_id, last_error, archived, created_at, updated_at")
    connection.ensure_connection()
    with connection.connection.cursor() as cursor, cursor.copy(
            f"COPY {TABLE} ({columns}) FROM STDIN") as copy:
        copy.write(rows.getvalue())


@pytest.fixture
def history(world, schedule, fake_twilio, daytime, messaging):
    """Rows in every status, written by every writer the outbox has, spread over 40 days."""
    practice = world.practice_a
    kinds = ["balance_dunning", "payment_request", "declined_alert"]
    made = [schedule(recipient=Recipient(kind="patient", id=i, name=f"Person {i}"),
                     channel=["sms", "email", "sms", "voice"][i % 4], kind=kinds[i % 3],
                     address="+13125550111" if i % 4 != 1 else f"p{i}@example.test")
            for i in range(48)]
    schedule(practice=world.practice_c, recipient=Recipient(kind="patient", id=1, name="Other"))
    fake_twilio.errors_for["+13125550199"] = (400, 21211)
    made += [schedule(address="+13125550199", idempotency_key=f"bad-{i}") for i in range(3)]
    fake_twilio.fail_next = [(503, 20503)] * 4
    dispatch.drain_inline()  # sent, retried, refused (frequency cap, voice add-on off), permanent
    for n in made[:5]:
        n.refresh_from_db()
        if n.can_cancel:
            notification_cancel(notification=n, reason_code=ReasonCode.SUPERSEDED)
    notification_archive(notification=made[-1])
    notification_retry(notification=made[-2])
    notifications_bulk_action(practice=practice, ids=[made[-3].pk], action="cancel_opt_out",
                              actor=world.staff_a)
    Notification.objects.filter(pk__in=[n.pk for n in made[10:14]]).update(status=Status.DELIVERED)
    Notification.objects.filter(pk=made[15].pk).delete()
    _spread_creation_times(practice)
    _raw_writes(practice)
    return practice


def test_counts_equal_the_rows_for_every_filter_and_writer(history, world):
    statuses = set(Notification.objects.filter(practice=history).values_list("status", flat=True))
    assert len(statuses) >= 6  # the writers above really left many statuses
    today = timezone.now().date()
    for compacted in (False, True):
        if compacted:
            assert notification_counts_compact()["folded"] > 0
            assert not NotificationCountChange.objects.exists()
        for tz in ZONES:
            _assert_periods_match_rows(history, tz, days=42, step=1)
            _assert_periods_match_rows(history, tz, days=42, step=7)
            for start, end in [(None, None), (today - timedelta(days=3), None),
                               (None, today - timedelta(days=2)), (today - timedelta(days=33), today),
                               (today, today), (date(2026, 1, 2), date(2026, 1, 3))]:
                _assert_counts_match_rows(history, tz, date_from=start, date_to=end)
        _assert_counts_match_rows(history, "UTC", channel="sms", status="sent")
        _assert_counts_match_rows(history, "UTC", kind="payment_request", channel="email")
        _assert_counts_match_rows(history, "UTC", kind="statement", date_from=today - timedelta(days=2))
    # Another office's rows are counted for it alone.
    _assert_counts_match_rows(world.practice_c, "UTC")


def test_a_set_based_statement_adds_a_few_changes_not_one_per_row(world):
    before = NotificationCountChange.objects.count()
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {TABLE} (practice_id, recipient_kind, recipient_id, recipient_name, "  # noqa: S608
            "recipient_time_zone, consent, channel, address, kind, reason, addon, subject, body, "
            "html_body, template_name, template_version, idempotency_key, send_at, status, "
            "reason_code, attempts, sender, provider_message_id, last_error, archived, created_at, "
            "updated_at) SELECT %s, 'patient', g, '', '', true, 'sms', '+1', 'k', '', '', '', 'b', "
            "'', '', '', 'many-' || g, now(), 'queued', '', 0, '', '', '', false, "
            "timestamptz '2026-03-01 10:00' + (g %% 2) * interval '1 hour', now() "
            "FROM generate_series(1, 2000) AS g", [world.practice_a.pk])
        cursor.execute(f"UPDATE {TABLE} SET status = 'sent' WHERE idempotency_key LIKE 'many-%%'")  # noqa: S608
    assert NotificationCountChange.objects.count() - before == 2 + 4  # two quarter hours
    _assert_counts_match_rows(world.practice_a, "UTC")


def test_compaction_folds_each_change_once_into_every_span(world, schedule):
    for i in range(5):
        schedule(idempotency_key=f"c-{i}")
    assert notification_counts_compact() == {"folded": 5}  # one change per statement
    assert notification_counts_compact() == {"folded": 0}
    rows = NotificationCount.objects.filter(practice_id=world.practice_a.pk)
    per_span = Counter()
    for span, n in rows.values_list("span", "n"):
        per_span[span] += n
    assert per_span == {900: 5, 86400: 5, 32 * 86400: 5}


@given(start=st.none() | st.integers(0, 4000).map(lambda q: q * 900),
       length=st.none() | st.integers(0, 8000).map(lambda q: q * 900))
@settings(max_examples=200, deadline=None, database=None)
def test_the_spans_cover_a_range_exactly_once(start, length):
    end = None if length is None or start is None else start + length
    covered = Counter()
    bound = 4000 * 900 + 8000 * 900
    for span, low, high in spans_covering(start, end):
        assert all(edge % span == 0 for edge in (low, high) if edge is not None) or low >= high
        low, high = low if low is not None else 0, high if high is not None else bound
        for quarter in range(low, high, 900):
            covered[quarter] += 1
    wanted = range(start or 0, end if end is not None else bound, 900)
    assert covered == Counter(wanted)


operations = st.lists(st.tuples(
    st.sampled_from(["schedule", "deliver", "cancel", "archive", "retry", "status", "delete",
                     "compact", "move"]),
    st.integers(0, 30), st.sampled_from(list(Status.values))), min_size=1, max_size=12)


@given(ops=operations, tz=st.sampled_from(ZONES), back=st.integers(0, 40), days=st.integers(0, 40))
@settings(max_examples=25, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_counts_stay_exact_through_any_sequence_of_writes(world, ops, tz, back, days):
    practice = world.practice_a
    for op, i, status in ops:
        rows = list(Notification.objects.filter(practice=practice).order_by("pk"))
        n = rows[i % len(rows)] if rows else None
        if op == "schedule" or n is None:
            from notifications.services import notification_schedule

            notification_schedule(practice=practice, recipient=Recipient(kind="patient", id=i),
                                  channel="email", address=f"x{i}@example.test", kind=f"k{i % 3}",
                                  body="b", idempotency_key=f"h-{Notification.objects.count()}-{i}")
        elif op == "deliver":
            dispatch.drain_inline()
        elif op == "cancel" and n.can_cancel:
            notification_cancel(notification=n)
        elif op == "archive":
            notification_archive(notification=n)
        elif op == "retry" and n.status in ("delivery_error", "undeliverable_permanent"):
            notification_retry(notification=n)
        elif op == "status":
            Notification.objects.filter(pk=n.pk).update(status=status)
        elif op == "delete":
            Notification.objects.filter(pk=n.pk).delete()
        elif op == "compact":
            notification_counts_compact()
        elif op == "move":
            Notification.objects.filter(pk=n.pk).update(
                created_at=timezone.now() - timedelta(days=i, minutes=7 * i))
    today = timezone.now().date()
    _assert_counts_match_rows(practice, tz, date_from=today - timedelta(days=back),
                              date_to=today - timedelta(days=max(0, back - days)))
    _assert_counts_match_rows(practice, tz)
