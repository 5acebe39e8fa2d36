"""`manage.py send_due` run as an operator or a cron job runs it: its own process, no Celery
worker anywhere, the loopback fake of Twilio's API. It fires due timers and sends every due
message itself, once, and says what it did."""

import os
import re
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta

import pytest
import redis

from notifications.models import Notification, NotificationDue, SandboxMessage, Status
from payments.services import application_event_record
from tests.conftest import ROOT, _test_database_url, wait_for

from .drain import assert_exactly_once, schedule_texts
from .fake_providers import FakeTwilio

pytestmark = pytest.mark.worker  # real processes


@pytest.fixture
def fake():
    f = FakeTwilio().start()
    yield f
    f.stop()


@pytest.fixture
def send_due_env(transactional_db, fake):
    from config.celery_app import app

    app.control.purge()
    yield {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test",
           "DATABASE_URL": _test_database_url(), "MESSAGING_SANDBOX": "false",
           "TWILIO_API_BASE_URL": fake.url, "TWILIO_TIMEOUT": "3", "NOTIFICATIONS_RATE_SMS": "2000",
           "EMAIL_BACKEND": "notifications.sandbox.SandboxEmailBackend"}
    app.control.purge()


def _send_due(env, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "manage.py", "send_due"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def _finish(proc) -> str:
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err
    return out


def _schedule_due(practice, count, prefix):
    """Texts scheduled for later (so nothing hands them to Celery on commit), then made due."""
    schedule_texts(practice, count, prefix=prefix, send_at=datetime.now(UTC) + timedelta(hours=1))
    now = datetime.now(UTC)
    Notification.objects.update(send_at=now)
    NotificationDue.objects.update(due_at=now)


def _sent(out: str) -> int:
    return int(re.search(r"^outcomes: .*\bsent (\d+)", out, re.M).group(1))


def test_send_due_without_a_worker_fires_timers_and_sends_each_due_message_once(
        world, send_due_env, fake, settings):
    count = 150
    _schedule_due(world.practice_a, count, "cron")
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    later = Notification.objects.get(idempotency_key="cron-0")
    Notification.objects.filter(pk=later.pk).update(send_at=tomorrow)
    NotificationDue.objects.filter(notification=later).update(due_at=tomorrow)
    # An application started 15 days ago: its 14-day "incomplete" alert timer is overdue.
    application_event_record(
        practice=world.practice_a, event_id="evt-1", application_id="fin-1", type="started",
        occurred_at=datetime.now(UTC) - timedelta(days=15), patient_external_id="pms-1",
        patient_first_name="Maria", patient_last_name="Garcia")

    out = _finish(_send_due(send_due_env))

    # Every due text went to Twilio once (the one due tomorrow did not); the timer's alert
    # emails went to the office's two members through the mailer, in this run.
    assert len(fake.messages) == count - 1
    assert {m["body"].rsplit(" ", 1)[-1] for m in fake.messages} == {f"cron-{i}" for i in range(1, count)}
    alerts = SandboxMessage.objects.filter(channel="email", subject__contains="Incomplete application")
    assert sorted(alerts.values_list("to", flat=True)) == sorted([world.admin_ab.email, world.staff_a.email])
    assert Notification.objects.filter(status=Status.SENT).count() == count - 1 + 2
    assert "payments.alerts.due_timers_run: timers fired 1" in out
    assert _sent(out) == count - 1 + 2
    # Nothing was handed to a Celery queue: no worker was needed, none will send them again.
    queued = redis.Redis.from_url(settings.CELERY_BROKER_URL).lrange("celery", 0, -1)
    assert queued == [], queued

    again = _finish(_send_due(send_due_env))
    assert "outcomes: nothing to do" in again
    assert len(fake.messages) == count - 1


def test_two_send_due_runs_at_once_send_nothing_twice(world, send_due_env, fake):
    count = 600
    _schedule_due(world.practice_a, count, "both")
    # Small chunks, and the provider holds every text until both runs are sending: they work
    # side by side on one due list, not one after the other.
    env = {**send_due_env, "NOTIFICATIONS_CLAIM_CHUNK": "100", "NOTIFICATIONS_TASK_CHUNK": "100"}
    fake.gate = threading.Event()
    runs = [_send_due(env), _send_due(env)]
    try:
        wait_for(lambda: len(fake.peers) >= 2, timeout=60, message="both runs to reach the provider")
    finally:
        fake.gate.set()
    outs = [_finish(run) for run in runs]

    assert_exactly_once(fake, count)
    sent = [_sent(out) for out in outs]
    assert sum(sent) == count and all(sent), sent
