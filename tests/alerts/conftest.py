"""Fixtures for application alerts: API keys per office and a poster of provider events."""

import itertools
from datetime import datetime

import pytest
from django.core import mail
from django.core.cache import cache

from config.celery_app import app as celery_app
from payments.alerts import KICK_KEY
from practices.services import api_key_create

_ids = itertools.count(1)


@pytest.fixture
def eager_tasks():
    """Run Celery tasks in the calling process, so the outbox hands emails to locmem at once."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    # A run asked for by an earlier test's events (its task never ran) must not stand in for ours.
    cache.delete(KICK_KEY)
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture
def keys(world):
    return {slug: api_key_create(practice=getattr(world, f"practice_{slug}"), label="provider")[1]
            for slug in ("a", "b", "c")}


@pytest.fixture
def post_event(client, keys, eager_tasks, django_capture_on_commit_callbacks):
    """post_event("declined", at=..., application="app-1", office="a") -> response."""

    def post(type_, *, at: datetime, application="app-1", office="a", event_id=None, patient=None,
             raw=None):
        body = raw if raw is not None else {
            "event_id": event_id or f"evt-{next(_ids)}",
            "application_id": application,
            "type": type_,
            "occurred_at": at.isoformat(),
            "patient": patient or {"external_id": "pms-77", "first_name": "Maria", "last_name": "Garcia"},
        }
        with django_capture_on_commit_callbacks(execute=True):
            return client.post("/api/v1/applications/events", body, content_type="application/json",
                               headers={"Authorization": f"Bearer {keys[office]}"})

    return post


def emails_to(user, subject_contains=""):
    return [m for m in mail.outbox if user.email in m.to and subject_contains in m.subject]


@pytest.fixture
def send_due(eager_tasks, django_capture_on_commit_callbacks):
    from django.core.management import call_command

    def run():
        with django_capture_on_commit_callbacks(execute=True):
            call_command("send_due")

    return run
