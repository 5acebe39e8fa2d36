"""Alerts at once: the commit of an event asks for a run, and one run fires a burst.

While a run is asked for or running (the mark in the cache), events ask for no run of their
own: that run's next pass fires them. A run that finds nothing more clears the mark.
"""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache

from payments.alerts import KICK_KEY, alerts_due_fire
from payments.models import AlertDelivery, AlertTimer
from payments.services import application_event_record
from tests.alerts.conftest import emails_to

T0 = datetime(2027, 3, 1, 15, 0, tzinfo=UTC)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def clock(world, time_machine):
    time_machine.move_to(T0, tick=False)


def test_an_event_committed_while_a_run_is_on_asks_for_none_and_the_run_fires_it(post_event, world):
    cache.set(KICK_KEY, 1, timeout=60)  # a run is asked for, or running
    assert post_event("declined", at=T0 - timedelta(minutes=1), application="fin-1").status_code == 202
    assert emails_to(world.staff_a) == []  # no run of its own
    assert AlertTimer.objects.get(application__external_id="fin-1").status == "pending"
    assert alerts_due_fire() == {"timers_fired": 1, "timers_failed": 0}  # the run's next pass
    assert AlertDelivery.objects.filter(application__external_id="fin-1").count() == 2
    assert cache.get(KICK_KEY) is None  # nothing more to fire: the run let go of the mark


def test_once_the_run_let_go_an_event_asks_for_its_own(post_event, world, django_capture_on_commit_callbacks):
    cache.set(KICK_KEY, 1, timeout=60)
    post_event("declined", at=T0 - timedelta(minutes=1), application="fin-1")
    with django_capture_on_commit_callbacks(execute=True):
        alerts_due_fire()
    post_event("activated", at=T0 - timedelta(minutes=1), application="fin-2")
    assert [e.subject for e in emails_to(world.staff_a, "activated")] == [
        "Payment plan activated: Maria G. · Lakeside Dental"]


def test_a_run_fires_every_application_of_a_burst(world):
    cache.set(KICK_KEY, 1, timeout=60)
    for n in range(30):
        application_event_record(practice=world.practice_a, event_id=f"b-{n}", application_id=f"fin-{n}",
                                 type="prequalified", occurred_at=T0, patient_external_id=f"pms-{n}",
                                 patient_first_name="Ann", patient_last_name="Lee")
    assert alerts_due_fire() == {"timers_fired": 30, "timers_failed": 0}
    assert AlertDelivery.objects.count() == 60 and not AlertTimer.objects.filter(status="pending").exists()
    assert alerts_due_fire() == {"timers_fired": 0, "timers_failed": 0}
