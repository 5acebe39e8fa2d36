"""Fault tests with real Celery workers and real Redis: a worker SIGKILLed mid-drain, and Redis
stopped for 30 seconds mid-drain. Every notification must reach the fake provider exactly once
(counted by idempotency key, which each message's text carries)."""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.db import connection

from notifications import dispatch
from notifications.models import Notification, Status
from tests.conftest import ROOT, _test_database_url, wait_for

from .drain import assert_exactly_once, daytime_zone, schedule_texts
from .fake_providers import FakeTwilio

pytestmark = pytest.mark.worker

COUNT = 2000


def _engine_env(fake, **extra):
    return {"MESSAGING_SANDBOX": "false", "TWILIO_API_BASE_URL": fake.url, "TWILIO_TIMEOUT": "1",
            "NOTIFICATIONS_CLAIM_LEASE_SECONDS": "5", "NOTIFICATIONS_SEND_LEASE_SECONDS": "6",
            "NOTIFICATIONS_TASK_CHUNK": "50", "NOTIFICATIONS_RATE_SMS": "1500", **extra}


def _schedule_all(practice, *, send_at=None):
    schedule_texts(practice, COUNT, send_at=send_at)


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found += [int(c) for c in (task / "children").read_text().split()]
    return found


def _sigkill_tree(worker):
    pids = [worker.proc.pid, *_children(worker.proc.pid)]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    worker.proc.wait()


def _assert_exactly_once(fake):
    assert_exactly_once(fake, COUNT)


def _drain_with_dispatcher(fake, deadline_s, run_dispatcher):
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        run_dispatcher()
        if Notification.objects.filter(status=Status.SENT).count() == COUNT:
            return
        time.sleep(1.5)
    states = Counter(Notification.objects.values_list("status", flat=True))
    raise AssertionError(f"not drained in {deadline_s}s: {dict(states)}, fake saw "
                         f"{len(fake.messages)}")


@pytest.fixture
def fake(settings):
    f = FakeTwilio().start()
    # The dispatcher run here (reclaims ask the provider) must see what the worker sees.
    settings.MESSAGING_SANDBOX = False
    settings.TWILIO_API_BASE_URL = f.url
    settings.TWILIO_TIMEOUT = 1
    settings.NOTIFICATIONS_CLAIM_LEASE_SECONDS = 5
    settings.NOTIFICATIONS_SEND_LEASE_SECONDS = 6
    yield f
    f.stop()


def test_worker_sigkilled_mid_drain_then_restarted_sends_each_exactly_once(world, celery_worker,
                                                                          fake):
    fake.delay = 0.002  # a provider that takes a moment, so the kill lands mid-drain
    _schedule_all(world.practice_a)  # due now: enqueued in chunks on commit
    worker = celery_worker(env_overrides=_engine_env(fake), concurrency=2)
    wait_for(lambda: len(fake.messages) >= 300, timeout=60, message="the drain to start")
    _sigkill_tree(worker)
    seen_at_kill = len(fake.messages)
    assert seen_at_kill < COUNT, "the drain finished before the kill: nothing was tested"
    celery_worker(env_overrides=_engine_env(fake), concurrency=2)
    # The beat's job: reclaim the killed worker's expired leases and enqueue what is due.
    _drain_with_dispatcher(fake, 180, dispatch.dispatch_due)
    _assert_exactly_once(fake)
    # The killed worker's rows came back through the reclaim rule, not by luck.
    from notifications.models import NotificationEvent

    assert NotificationEvent.objects.filter(detail__contains="queued again").exists() or \
        NotificationEvent.objects.filter(detail__contains="found at the provider").exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OwnRedis:
    """A redis-server of this test's own, so stopping it disturbs no other test."""

    def __init__(self, tmp_path):
        self.port = _free_port()
        self.dir = tmp_path
        self.proc = None

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.dir)], stdout=subprocess.DEVNULL)
        wait_for(self._up, timeout=10, message="redis to start")

    def _up(self):
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
            return True
        except OSError:
            return False

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def test_redis_stopped_30s_mid_drain_resumes_and_loses_nothing(world, celery_worker, fake,
                                                               tmp_path):
    redis = OwnRedis(tmp_path)
    redis.start()
    env = _engine_env(fake, REDIS_URL=redis.url, CELERY_BROKER_URL=redis.url,
                      CELERY_RESULT_BACKEND=redis.url, NOTIFICATIONS_RATE_SMS="150")
    env["DATABASE_URL"] = _test_database_url()
    # Due a moment from now, so only the dispatcher (beat's job, on this Redis) enqueues them.
    _schedule_all(world.practice_a, send_at=datetime.now(UTC) + timedelta(seconds=1))
    celery_worker(env_overrides=env, concurrency=2)
    dispatcher_env = {**os.environ, **env, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    outcomes = []

    def beat_tick():
        # What a beat tick makes the worker run: the due work, handing due chunks to Celery.
        result = subprocess.run(
            [sys.executable, "-c", "import django; django.setup(); "
             "from practices.due_work import due_work_run; due_work_run()"],
            cwd=ROOT, env=dispatcher_env, capture_output=True, text=True, timeout=120)
        outcomes.append(result.returncode)

    stop = threading.Event()

    def beat():
        while not stop.is_set():
            beat_tick()
            stop.wait(2)

    beat_thread = threading.Thread(target=beat, daemon=True)
    time.sleep(1.2)
    beat_thread.start()
    try:
        wait_for(lambda: len(fake.messages) >= 200, timeout=60, message="the drain to start")
        redis.stop()
        seen_at_stop = len(fake.messages)
        time.sleep(30)
        during_outage = len(fake.messages) - seen_at_stop
        redis.start()
        connection.close()
        wait_for(lambda: Notification.objects.filter(status=Status.SENT).count() == COUNT,
                 timeout=240, interval=1, message="the drain to finish after Redis came back")
    finally:
        stop.set()
        beat_thread.join(timeout=130)
        redis.stop()
    assert seen_at_stop < COUNT
    _assert_exactly_once(fake)
    assert during_outage < COUNT - seen_at_stop  # Redis really was in the way for a while
    assert outcomes.count(0) >= 2


class OwnServices:
    """A PostgreSQL and a Redis of this test's own (bin/services), so restarting PostgreSQL
    disturbs no other test. Its database is reached through subprocesses and psycopg."""

    def __init__(self):
        # Not under pytest's tmp_path: the postgres user must be able to reach the directory.
        self.dir = Path(tempfile.mkdtemp(prefix="bo-fault-"))
        self.env = {}

    def start(self):
        out = subprocess.run(["bin/services", "start", str(self.dir)], cwd=ROOT, check=True,
                             capture_output=True, text=True).stdout
        self.env = dict(line.split("=", 1) for line in out.split())
        return self

    def pg(self, command):
        subprocess.run(["bin/services", command, str(self.dir)], cwd=ROOT, check=True, timeout=60)

    def stop(self):
        subprocess.run(["bin/services", "stop", str(self.dir)], cwd=ROOT, check=False)
        shutil.rmtree(self.dir, ignore_errors=True)

    def query(self, sql):
        import psycopg

        with psycopg.connect(self.env["DATABASE_URL"].replace("postgres://", "postgresql://")) as conn:
            return conn.execute(sql).fetchall()


# Run against the test's own database, in its own process: a practice in a daytime zone and
# COUNT texts due now, each naming its key.
_SCHEDULE = f"""
import django
django.setup()
from django.db import transaction
from notifications.services import Recipient, notification_schedule
from practices.models import Practice
practice = Practice.objects.create(name="Lakeside Dental", slug="lakeside", time_zone=ZONE)
with transaction.atomic():
    for i in range({COUNT}):
        notification_schedule(
            practice=practice, recipient=Recipient(kind="patient", id=i), channel="sms",
            address=f"+1555{{i:07d}}", kind="balance_dunning",
            body=f"Lakeside Dental: balance notice fault-{{i}}", idempotency_key=f"fault-{{i}}")
"""


def test_postgresql_restarted_mid_drain_sends_each_exactly_once_and_the_worker_recovers(
        fake, celery_worker):
    own = OwnServices().start()
    try:
        env = {**os.environ, **_engine_env(fake), "DJANGO_SETTINGS_MODULE": "config.settings.test",
               "DATABASE_URL": own.env["DATABASE_URL"], "REDIS_URL": own.env["REDIS_URL"],
               "CELERY_BROKER_URL": own.env["REDIS_URL"], "CELERY_RESULT_BACKEND": own.env["REDIS_URL"],
               # Connections kept between tasks, as production keeps them: the worker's must
               # survive the restart.
               "DATABASE_CONN_MAX_AGE": "60", "NOTIFICATIONS_RATE_SMS": "100"}
        manage = [sys.executable, "manage.py"]
        subprocess.run([*manage, "migrate", "--noinput"], cwd=ROOT, env=env, check=True,
                       capture_output=True, timeout=300)
        # Due now, enqueued on commit to the worker's broker before it starts.
        subprocess.run([sys.executable, "-c", f"ZONE = {daytime_zone()!r}\n{_SCHEDULE}"], cwd=ROOT, env=env,
                       check=True, capture_output=True, timeout=300)
        worker = celery_worker(env_overrides=env, concurrency=2)
        stop = threading.Event()
        outcomes = []

        def beat():  # beat's task every 2 seconds: reclaims, and hands due rows to the worker
            while not stop.is_set():
                outcomes.append(subprocess.run(
                    [sys.executable, "-c", "import django; django.setup(); "
                     "from practices.due_work import due_work_run; due_work_run()"],
                    cwd=ROOT, env=env, capture_output=True, timeout=120).returncode)
                stop.wait(2)

        wait_for(lambda: len(fake.messages) >= 300, timeout=90, message="the drain to start")
        beat_thread = threading.Thread(target=beat, daemon=True)
        beat_thread.start()
        try:
            own.pg("pg-stop")  # fast shutdown: every session is cut mid-statement
            seen_at_stop = len(fake.messages)
            time.sleep(5)
            own.pg("pg-start")
            wait_for(lambda: own.query("SELECT count(*) FROM notifications_notification "
                                       "WHERE status = 'sent'")[0][0] == COUNT,
                     timeout=240, interval=1, message="the drain to finish after the restart")
        finally:
            stop.set()
            beat_thread.join(timeout=130)
        assert seen_at_stop < COUNT, "the drain finished before the restart: nothing was tested"
        by_key = Counter(m["body"].rsplit(" ", 1)[-1] for m in fake.messages)
        assert len(by_key) == COUNT and max(by_key.values()) == 1
        sids = {row[0] for row in own.query("SELECT provider_message_id FROM notifications_notification")}
        assert sids == {m["sid"] for m in fake.messages}
        assert 0 in outcomes
        # The same worker process carries on after the restart: nothing was restarted but PostgreSQL.
        assert worker.proc.poll() is None
        log = worker.log()
        assert "OperationalError" in log, "the worker never felt the restart: nothing was tested"
        after = log[log.index("OperationalError"):]
        assert "succeeded" in after, "the worker did no task after the restart"
    finally:
        own.stop()
