"""Alerts at once through real processes: the API's commit asks a Celery worker to fire them."""

from datetime import timedelta

import pytest
from django.utils import timezone

from notifications.models import SandboxMessage
from practices.services import api_key_create
from tests.conftest import wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_events_posted_to_the_api_alert_the_team_through_a_worker_at_once(world, client, celery_worker):
    celery_worker()
    key = api_key_create(practice=world.practice_a, label="provider")[1]
    at = (timezone.now() - timedelta(minutes=1)).isoformat()
    for n, event_type in enumerate(["declined", "activated", "prequalified", "started"]):
        response = client.post(
            "/api/v1/applications/events", content_type="application/json",
            headers={"Authorization": f"Bearer {key}"},
            data={"event_id": f"w-{n}", "application_id": f"fin-{n}", "type": event_type, "occurred_at": at,
                  "patient": {"external_id": f"pms-{n}", "first_name": "Ann", "last_name": "Lee"}})
        assert response.status_code == 202
    wait_for(lambda: SandboxMessage.objects.count() >= 6, timeout=30, message="six alert emails")
    expected = [(member.email, f"{label}: Ann L. · Lakeside Dental")
                for member in (world.admin_ab, world.staff_a)
                for label in ("Declined application", "Payment plan activated", "Pre-qualified")]
    assert sorted(SandboxMessage.objects.values_list("to", "subject")) == sorted(expected)
