"""Set-based schedule and cancel: the guarantees of notification_schedule for many rows at once,
through both write paths (staged on PostgreSQL, and the generic statements SQLite takes)."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError

from notifications.models import Notification, NotificationDue, NotificationEvent, ReasonCode, Status
from notifications.schedule_many import Outgoing, notifications_cancel_many, notifications_schedule_many
from notifications.services import Recipient, notification_schedule
from notifications.unsubscribe import unsubscribe_reference, unsubscribe_token_for_key

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 6, 10, 15, 0, tzinfo=UTC)


@pytest.fixture(params=["sets", "generic"])
def path(request, settings):
    settings.OUTBOX_GENERIC_SQL = request.param == "generic"
    return request.param


def rows(count, *, prefix="m", later=True, start=0):
    at = NOW + timedelta(days=2) if later else NOW - timedelta(hours=1)
    return [Outgoing(recipient_kind="patient", recipient_id=i, channel="sms" if i % 2 else "email",
                     address=f"+1312555{i:04d}" if i % 2 else f"p{i}@example.test", kind="balance",
                     body=f"Message {i}", idempotency_key=f"{prefix}-{i}", recipient_name=f"Patient {i}",
                     subject="Hi" if i % 2 == 0 else "", send_at=at, tag="group:1")
            for i in range(start, start + count)]


@time_machine.travel(NOW, tick=False)
def test_many_rows_get_their_first_event_and_due_entry_and_keys_stay_unique(world, path):
    # 450 rows: past the size at which a chunk is staged by COPY rather than sent as JSON.
    first = notifications_schedule_many(practice=world.practice_a, messages=rows(450))
    again = notifications_schedule_many(practice=world.practice_a, messages=rows(460))
    assert (first.created, first.existing, again.created, again.existing) == (450, 0, 10, 450)
    stored = Notification.objects.filter(practice=world.practice_a)
    assert stored.count() == 460 and set(stored.values_list("status", flat=True)) == {Status.QUEUED}
    assert NotificationDue.objects.count() == 460
    events = NotificationEvent.objects.filter(notification__in=stored)
    assert events.count() == 460
    assert set(events.values_list("detail", flat=True)) == {"due 2026-06-12 15:00 UTC"}
    n = stored.get(idempotency_key="m-3")
    assert (n.channel, n.address, n.recipient_name, n.tag, n.first_due_at) == (
        "sms", "+13125550003", "Patient 3", "group:1", NOW + timedelta(days=2))


@time_machine.travel(NOW, tick=False)
def test_rows_due_now_are_handed_to_celery_when_the_transaction_commits(
        world, path, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        notifications_schedule_many(practice=world.practice_a, messages=rows(5, later=False) + rows(
            3, prefix="later", start=10))
    assert len(callbacks) == 1
    due_now = set(Notification.objects.filter(idempotency_key__startswith="m-").values_list("pk", flat=True))
    assert set(callbacks[0].ids) == due_now
    assert set(NotificationEvent.objects.filter(notification_id__in=due_now).values_list(
        "detail", flat=True)) == {"due now"}


def test_a_bad_row_refuses_the_call_naming_its_position(world, path):
    bad = rows(3)
    bad[2] = Outgoing(**{**{f: getattr(bad[2], f) for f in Outgoing.__dataclass_fields__}, "channel": "fax"})
    with pytest.raises(ValidationError) as refused:
        notifications_schedule_many(practice=world.practice_a, messages=bad)
    assert "message 2" in refused.value.message_dict["channel"][0]
    assert not Notification.objects.exists()


def test_another_practices_key_is_an_error(world, path):
    notifications_schedule_many(practice=world.practice_c, messages=rows(2))
    with pytest.raises(ValueError, match="another practice"):
        notifications_schedule_many(practice=world.practice_a, messages=rows(3))
    with pytest.raises(ValueError, match="another practice"):
        notification_schedule(practice=world.practice_a, recipient=Recipient(kind="patient", id=1),
                              channel="sms", address="+13125550100", kind="k", body="b",
                              idempotency_key="m-0")


@time_machine.travel(NOW, tick=False)
def test_cancel_many_stops_unsent_rows_only_with_one_event_each(world, path):
    made = notifications_schedule_many(practice=world.practice_a, messages=rows(6), return_ids=True)
    sent, claimed, started, waiting = made.created_ids[0], made.created_ids[1], made.created_ids[2], \
        made.created_ids[3:]
    Notification.objects.filter(pk=sent).update(status=Status.SENT)
    Notification.objects.filter(pk=claimed).update(status=Status.SENDING)
    Notification.objects.filter(pk=started).update(status=Status.SENDING, attempt_started_at=NOW)
    stopped = notifications_cancel_many(practice=world.practice_a, reason_code=ReasonCode.SUPERSEDED,
                                        keys=[f"m-{i}" for i in range(6)] + ["missing"],
                                        detail="superseded by batch 2")
    assert stopped == 4  # the three waiting rows and the claimed one not yet attempted
    statuses = dict(Notification.objects.values_list("pk", "status"))
    assert statuses[sent] == Status.SENT and statuses[started] == Status.SENDING
    assert {statuses[pk] for pk in [claimed, *waiting]} == {Status.WILL_NOT_SEND}
    assert not NotificationDue.objects.filter(notification_id__in=[claimed, *waiting]).exists()
    assert NotificationEvent.objects.filter(status=Status.WILL_NOT_SEND, reason_code="superseded",
                                            detail="superseded by batch 2").count() == 4
    # another practice's rows are never touched, by key or id
    assert notifications_cancel_many(practice=world.practice_c, reason_code=ReasonCode.BALANCE_PAID,
                                     ids=waiting) == 0
    assert notifications_cancel_many(practice=world.practice_a, reason_code=ReasonCode.SUPERSEDED,
                                     ids=waiting) == 0  # already stopped


def test_cancel_many_refuses_an_unknown_reason(world):
    with pytest.raises(ValidationError):
        notifications_cancel_many(practice=world.practice_a, reason_code="bored", keys=["x"])


def test_unsubscribe_tokens_by_key_round_trip_and_refuse_tampering():
    key = "statement:12:step:3/with a slash"
    token = unsubscribe_token_for_key(key)
    assert "/" not in token and unsubscribe_reference(token) == {"idempotency_key": key}
    assert unsubscribe_reference(token[:-2] + "xx") is None
    assert unsubscribe_reference("garbage") is None


@time_machine.travel(NOW, tick=False)
def test_rows_new_by_construction_are_copied_in_with_what_a_schedule_gives_them(
        world, django_capture_on_commit_callbacks):
    from django.db import IntegrityError, transaction

    from notifications.schedule_many import notifications_copy_new

    with django_capture_on_commit_callbacks() as callbacks:
        made = notifications_copy_new(practice=world.practice_a,
                                      messages=rows(4) + rows(2, prefix="now", later=False, start=10))
    assert made.created == 6
    copied = Notification.objects.filter(practice=world.practice_a)
    scheduled = notifications_schedule_many(practice=world.practice_b, messages=rows(4, prefix="s"))
    assert scheduled.created == 4
    shown = ("status", "channel", "address", "recipient_name", "subject", "tag", "attempts", "reason_code",
             "first_due_at", "send_at", "archived")
    assert (list(copied.filter(idempotency_key__startswith="m-").order_by("recipient_id").values_list(*shown))
            == list(Notification.objects.filter(practice=world.practice_b).order_by("recipient_id")
                    .values_list(*shown)))
    assert NotificationDue.objects.filter(notification__in=copied).count() == 6
    details = NotificationEvent.objects.filter(notification__in=copied).values_list("detail", flat=True)
    assert sorted(details) == ["due 2026-06-12 15:00 UTC"] * 4 + ["due now"] * 2
    due_now = set(copied.filter(idempotency_key__startswith="now-").values_list("pk", flat=True))
    assert len(callbacks) == 1 and set(callbacks[0].ids) == due_now
    # Its ids come from the table's own sequence: a row written the usual way after takes the next.
    last_copied = max(copied.values_list("pk", flat=True))
    after = notifications_schedule_many(practice=world.practice_a, messages=rows(1, prefix="after"),
                                        return_ids=True).created_ids
    assert after[0] > last_copied
    # A key already stored is an error, not a row left as it was.
    with pytest.raises(IntegrityError), transaction.atomic():
        notifications_copy_new(practice=world.practice_a, messages=rows(1))
    bad = rows(1, prefix="bad")
    bad[0] = Outgoing(**{**{f: getattr(bad[0], f) for f in Outgoing.__dataclass_fields__}, "channel": "fax"})
    with pytest.raises(ValidationError) as refused:
        notifications_copy_new(practice=world.practice_a, messages=bad)
    assert "message 0" in refused.value.message_dict["channel"][0]


def test_ids_of_copied_rows_are_drawn_in_growing_blocks(world, monkeypatch):
    """A batch copies its messages in with ids drawn from the sequence a block at a time: each
    block twice the last (and never less than asked), so that 40 chunks make a handful of draws;
    the ids are the sequence's own, unique and in order, and the rows take them."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from notifications.schedule_many import NotificationIds, json_chunks, notifications_copy_new

    if not json_chunks():
        pytest.skip("COPY is PostgreSQL's")
    monkeypatch.setattr(NotificationIds, "BLOCK", 16)
    ids = NotificationIds()
    with CaptureQueriesContext(connection) as queries:
        taken = [ids.take(n) for n in (3, 3, 5, 20, 1)]
    drawn = [q["sql"] for q in queries if "nextval" in q["sql"]]
    # 3; 6 (3 left over); 12 more for 5 (10 left); 20 (the block is 16, the request more); none.
    assert len(drawn) == 4
    flat = [pk for part in taken for pk in part]
    assert [len(part) for part in taken] == [3, 3, 5, 20, 1]
    assert len(set(flat)) == 32 and flat == sorted(flat)
    made = notifications_copy_new(practice=world.practice_a, messages=rows(4, prefix="ids"), ids=ids)
    stored = sorted(Notification.objects.filter(idempotency_key__startswith="ids-").values_list(
        "pk", flat=True))
    assert made.created == 4 and stored[0] > flat[-1] and len(set(stored) & set(flat)) == 0

def test_keys_and_token_digests_compare_by_bytes_on_postgresql(db):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("SQLite compares bytes already")
    with connection.cursor() as cursor:
        cursor.execute("SELECT table_name, column_name, collation_name FROM information_schema.columns "
                       "WHERE (table_name, column_name) IN "
                       "(('notifications_notification', 'idempotency_key'), "
                       "('payments_quickpaylink', 'token_hash'), "
                       "('payments_quickpaylink', 'notification_key'))")
        found = sorted(cursor.fetchall())
    assert found == [("notifications_notification", "idempotency_key", "C"),
                     ("payments_quickpaylink", "notification_key", "C"),
                     ("payments_quickpaylink", "token_hash", "C")]


def test_event_table_keeps_only_the_indexes_read(world):
    """A batch writes an event per message it queues or stops: the events table has the
    (notification, created_at) index, an actor index holding staff's events alone, and no
    per-row constraint check on the actor; a user's deletion still clears their events' actor."""
    from django.db import connection

    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, NotificationEvent._meta.db_table)
    indexed = sorted(tuple(c["columns"]) for c in constraints.values() if c["index"] and not c["primary_key"])
    assert indexed == [("actor_id",), ("notification_id", "created_at")]
    assert not [name for name, c in constraints.items() if c["foreign_key"]]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'notif_event_actor_idx'")
            [(definition,)] = cursor.fetchall()
        assert "WHERE (actor_id IS NOT NULL)" in definition

    notifications_schedule_many(practice=world.practice_a, messages=rows(2, prefix="actor"))
    first, second = Notification.objects.filter(idempotency_key__startswith="actor-").order_by("pk")
    event = NotificationEvent.objects.create
    by_staff = event(notification=first, status=Status.CANCELLED, actor=world.staff_a)
    kept = event(notification=second, status=Status.CANCELLED, actor=world.admin_c)
    world.staff_a.delete()
    by_staff.refresh_from_db()
    kept.refresh_from_db()
    assert (by_staff.actor_id, kept.actor_id) == (None, world.admin_c.pk)
