"""The outbox's public API: schedule, idempotency, immediate vs due later, cancel."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.utils import timezone

from notifications import dispatch
from notifications.models import Notification, NotificationDue, SandboxMessage, Status
from notifications.services import Recipient, notification_cancel, notification_schedule
from notifications.tasks import notifications_deliver

# 15:00 UTC is 09:00/10:00 in Chicago: inside the SMS window whatever the season.
DAYTIME = datetime(2026, 6, 10, 15, 0, tzinfo=UTC)
PATIENT = Recipient(kind="patient", id=41, name="Pat Doe")
STAFF = Recipient(kind="user", id=7, name="Sam Staff")


def schedule(practice, **kw):
    args = {"practice": practice, "recipient": PATIENT, "channel": "email",
            "address": "pat@example.test", "kind": "balance_dunning", "subject": "Your balance",
            "body": "You have a balance.", "idempotency_key": "k-1"}
    args.update(kw)
    return notification_schedule(**args)


def test_schedule_creates_one_queued_row_with_its_first_event(world):
    n = schedule(world.practice_a, reason="statement 12 level 1", template_name="dunning",
                 template_version="3")
    assert n.status == Status.QUEUED
    assert n.recipient_kind == "patient" and n.recipient_id == 41 and n.recipient_name == "Pat Doe"
    assert n.template_version == "3"
    assert [e.status for e in n.events.all()] == [Status.QUEUED]


def test_same_idempotency_key_returns_the_existing_row(world):
    first = schedule(world.practice_a)
    again = schedule(world.practice_a, body="different text")
    assert again.pk == first.pk
    assert Notification.objects.count() == 1
    assert again.body == "You have a balance."


@pytest.mark.parametrize("bad", [{"channel": "fax"}, {"recipient": Recipient(kind="robot", id=1)},
                                 {"idempotency_key": ""}, {"addon": "teleport"},
                                 {"recipient": Recipient(kind="patient", id=1, time_zone="Mars/Base")}])
def test_bad_input_is_refused(world, bad):
    with pytest.raises(ValidationError):
        schedule(world.practice_a, **bad)
    assert Notification.objects.count() == 0


def test_immediate_rows_of_one_transaction_are_enqueued_together_on_commit(
        world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        for i in range(3):
            schedule(world.practice_a, idempotency_key=f"k-{i}")
        schedule(world.practice_a, idempotency_key="later",
                 send_at=datetime.now(UTC) + timedelta(days=2))
    assert len(callbacks) == 1
    assert sorted(callbacks[0].ids) == sorted(
        Notification.objects.exclude(idempotency_key="later").values_list("pk", flat=True))


def test_delivering_sends_the_email_once_even_when_the_task_runs_twice(world):
    n = schedule(world.practice_a)
    notifications_deliver([n.pk])
    notifications_deliver([n.pk])
    assert len(mail.outbox) == 1
    n.refresh_from_db()
    assert n.status == Status.SENT and n.attempts == 1 and n.provider_message_id
    assert [e.status for e in n.events.all()] == [Status.QUEUED, Status.SENT]
    assert "contact policy passed" in n.events.last().detail


def test_patient_email_has_one_click_unsubscribe_but_staff_alert_does_not(world):
    patient = schedule(world.practice_a)
    staff = schedule(world.practice_a, recipient=STAFF, address="sam@example.test",
                     kind="practice_alert", idempotency_key="alert-1")
    notifications_deliver([patient.pk, staff.pk])
    by_to = {m.to[0]: m for m in mail.outbox}
    assert by_to["pat@example.test"].extra_headers["List-Unsubscribe"].startswith(
        "<http://127.0.0.1:8000/unsubscribe/")
    assert by_to["pat@example.test"].extra_headers["List-Unsubscribe-Post"] == \
        "List-Unsubscribe=One-Click"
    assert "List-Unsubscribe" not in by_to["sam@example.test"].extra_headers


def test_html_body_goes_as_an_alternative(world):
    n = schedule(world.practice_a, html_body="<p>You have a balance.</p>")
    notifications_deliver([n.pk])
    assert mail.outbox[0].alternatives[0][0] == "<p>You have a balance.</p>"


def test_a_future_message_waits_until_its_time(world):
    with time_machine.travel(DAYTIME, tick=False):
        n = schedule(world.practice_a, send_at=DAYTIME + timedelta(hours=2))
        assert dispatch.drain_inline() == {"sent": 0, "failed": 0, "refused": 0, "waiting": 0}
    with time_machine.travel(DAYTIME + timedelta(hours=2, seconds=1), tick=False):
        assert dispatch.drain_inline()["sent"] == 1
    n.refresh_from_db()
    assert n.status == Status.SENT
    assert len(mail.outbox) == 1


def test_a_task_for_a_future_message_does_not_send_it_early(world):
    n = schedule(world.practice_a, send_at=datetime.now(UTC) + timedelta(hours=1))
    notifications_deliver([n.pk])
    n.refresh_from_db()
    assert n.status == Status.QUEUED and mail.outbox == []


def test_cancelled_message_is_never_sent(world):
    n = schedule(world.practice_a)
    notification_cancel(notification=n, actor=world.staff_a)
    notifications_deliver([n.pk])
    n.refresh_from_db()
    assert n.status == Status.CANCELLED and n.reason_code == "cancelled_by_staff"
    assert mail.outbox == []
    assert n.events.last().actor == world.staff_a


def test_cancel_with_a_business_reason_means_will_not_send(world):
    n = schedule(world.practice_a, send_at=datetime.now(UTC) + timedelta(days=1))
    notification_cancel(notification=n, reason_code="balance_paid")
    n.refresh_from_db()
    assert (n.status, n.reason_code) == (Status.WILL_NOT_SEND, "balance_paid")


def test_a_sent_message_cannot_be_cancelled(world):
    n = schedule(world.practice_a)
    notifications_deliver([n.pk])
    with pytest.raises(ValidationError):
        notification_cancel(notification=n)
    n.refresh_from_db()
    assert n.status == Status.SENT


def test_sms_and_voice_go_to_the_sandbox(world):
    world.practice_a.addon_voice = True
    world.practice_a.save()
    with time_machine.travel(DAYTIME, tick=False):
        sms = schedule(world.practice_a, channel="sms", address="+13125550111", idempotency_key="s")
        voice = schedule(world.practice_a, channel="voice", address="+13125550111",
                         idempotency_key="v", addon="voice")
        notifications_deliver([sms.pk, voice.pk])
    recorded = {m.channel: m for m in SandboxMessage.objects.all()}
    assert recorded["sms"].body == "You have a balance." and recorded["sms"].to == "+13125550111"
    assert recorded["voice"].practice == world.practice_a
    sms.refresh_from_db()
    assert sms.status == Status.SENT and sms.provider_message_id == f"SB{recorded['sms'].pk}"


def test_beats_job_claims_due_rows_and_hands_them_to_celery(world):
    n = schedule(world.practice_a)
    later = schedule(world.practice_a, idempotency_key="later",
                     send_at=datetime.now(UTC) + timedelta(days=1))
    assert dispatch.dispatch_due()["claimed"] == 1  # what beat runs on the worker
    n.refresh_from_db()
    later.refresh_from_db()
    # The claim moved its due-list entry a lease ahead (it is not claimed again meanwhile); the
    # notification row itself is claimed by the task.
    assert NotificationDue.objects.get(notification=n).due_at > timezone.now()
    assert dispatch.claim_due() == []
    assert n.status == Status.QUEUED and later.status == Status.QUEUED
    # The task the dispatcher enqueued, run here, sends it.
    notifications_deliver([n.pk])
    n.refresh_from_db()
    assert n.status == Status.SENT


def test_scheduling_outside_a_transaction_enqueues_at_once(transactional_db, settings):
    import base64
    import json

    import redis

    from config.celery_app import app
    from tests.factories import PracticeFactory

    app.control.purge()
    n = schedule(PracticeFactory())  # autocommit: there is no commit to wait for
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    [raw] = broker.lrange("celery", 0, -1)
    args, _, _ = json.loads(base64.b64decode(json.loads(raw)["body"]))
    assert args == [[n.pk]]
    app.control.purge()


@pytest.fixture
def broker_down():
    """Point this process's Celery producer at a port where no broker listens."""
    from config.celery_app import app

    def reset_pools():
        from kombu import pools

        app.pool.force_close_all()
        app._pool = None
        app.amqp._producer_pool = None
        pools.reset()

    saved = app.conf.broker_url, app.conf.task_publish_retry_policy
    reset_pools()
    app.conf.broker_url = "redis://127.0.0.1:9/0"
    app.conf.task_publish_retry_policy = {"max_retries": 1, "interval_start": 0,
                                          "interval_step": 0.1, "interval_max": 0.1}
    yield
    reset_pools()
    app.conf.broker_url, app.conf.task_publish_retry_policy = saved


def test_a_broker_that_is_down_leaves_a_visible_queueing_error_that_is_retried(
        world, broker_down, capsys):
    n = schedule(world.practice_a)
    dispatch.dispatch_due()
    n.refresh_from_db()
    assert n.status == Status.QUEUEING_ERROR and n.attempt_started_at is None
    assert n.events.last().detail.startswith("could not reach the task queue")
    # The next run claims it again; delivered here in-process, it is sent once.
    assert dispatch.drain_inline()["sent"] == 1
    assert len(mail.outbox) == 1


def test_demo_seed_adds_a_message_in_each_state_once(db):
    call_command("seed_demo")
    call_command("seed_demo")
    # Other apps' demo data may send messages too (staff alerts): count this seeder's rows.
    statuses = sorted(Notification.objects.filter(idempotency_key__startswith="demo:")
                      .values_list("status", flat=True))
    assert statuses == sorted([Status.DELIVERED, Status.SENT, Status.UNDELIVERABLE_PERMANENT,
                               Status.DELIVERY_ERROR, Status.QUEUED])


def test_a_key_used_by_another_practice_never_returns_that_practices_row(world):
    from notifications.services import Recipient, notification_schedule

    def schedule_for(practice):
        return notification_schedule(
            practice=practice, recipient=Recipient(kind="patient", id=7, name="P"), channel="email",
            address="p@example.test", kind="test", body="hello", idempotency_key="shared-key")

    first = schedule_for(world.practice_a)
    assert schedule_for(world.practice_a) == first
    with pytest.raises(ValueError, match="another practice"):
        schedule_for(world.practice_c)
