"""GET /healthz: the database, the broker and beat's heartbeat, for compose and load balancers."""

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache

from config.celery_app import app as celery_app
from config.health import HEARTBEAT_KEY, beat_heartbeat_record
from tests.conftest import ROOT

pytestmark = pytest.mark.django_db


@pytest.fixture
def beat_alive():
    beat_heartbeat_record()
    yield
    cache.delete(HEARTBEAT_KEY)


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_healthy_answers_200_with_each_check(client, beat_alive):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "broker": "ok", "beat": "ok"}}
    assert response["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in response


def test_without_a_heartbeat_from_beat_it_answers_503_naming_beat(client):
    cache.delete(HEARTBEAT_KEY)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["failed"] == ["beat"]
    assert response.json()["checks"]["database"] == "ok"


def test_a_heartbeat_older_than_three_minutes_fails(client):
    cache.set(HEARTBEAT_KEY, (datetime.now(UTC) - timedelta(minutes=3, seconds=5)).isoformat())
    response = client.get("/healthz")
    assert (response.status_code, response.json()["checks"]["beat"]) == (503, "last heartbeat 3 minutes ago")
    cache.set(HEARTBEAT_KEY, (datetime.now(UTC) - timedelta(minutes=2, seconds=50)).isoformat())
    assert client.get("/healthz").status_code == 200
    cache.delete(HEARTBEAT_KEY)


def test_beats_every_minute_task_records_the_heartbeat(client):
    from practices.tasks import due_work_run

    cache.delete(HEARTBEAT_KEY)
    due_work_run()
    assert client.get("/healthz").json()["checks"]["beat"] == "ok"
    cache.delete(HEARTBEAT_KEY)


def test_an_unreachable_broker_answers_503_naming_the_broker(client, beat_alive):
    previous = celery_app.conf.broker_url
    celery_app.conf.broker_url = f"redis://127.0.0.1:{_closed_port()}/0"
    try:
        response = client.get("/healthz")
    finally:
        celery_app.conf.broker_url = previous
    assert response.status_code == 503
    assert response.json()["failed"] == ["broker"]
    assert response.json()["checks"]["broker"].startswith("unreachable (")


def test_an_unreachable_database_fails_the_check_and_the_command_exits_1():
    env = {**os.environ, "DATABASE_URL": f"postgres://postgres@127.0.0.1:{_closed_port()}/outreach"}
    done = subprocess.run([sys.executable, "manage.py", "healthcheck", "database", "broker"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["failed"] == ["database"] and report["checks"]["broker"] == "ok"
    assert "failing: database" in done.stderr


def test_it_needs_no_sign_in_any_host_and_no_https_and_is_never_locked_out(client, beat_alive, settings):
    settings.SECURE_SSL_REDIRECT = True
    for _ in range(12):  # failed sign-ins from the address a monitor calls from
        client.post("/accounts/login/", {"username": "nobody@example.test", "password": "wrong"},
                    REMOTE_ADDR="10.0.0.9")
    response = client.get("/healthz", REMOTE_ADDR="10.0.0.9", HTTP_HOST="10.1.2.3:8000")
    assert response.status_code == 200


def test_other_methods_are_refused(client):
    response = client.post("/healthz")
    assert (response.status_code, response["Allow"]) == (405, "GET, HEAD")
