"""Events of one new application arriving at the same moment: one application, one patient, each
event once, the state of the latest, and each alert to each member once.

Each thread is its own database session, as the web server's processes are.
"""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from patients.models import Patient
from payments.alerts import alert_timers_fire
from payments.models import AlertDelivery, Application, ApplicationEvent
from payments.services import application_event_record


@pytest.mark.django_db(transaction=True)
def test_the_first_events_of_an_application_racing_each_other_are_each_recorded_once(world):
    now = timezone.now()
    # (event id, type, minutes before now): two threads send the same event id, as a provider
    # retrying a call that timed out does.
    sent = [("r-1", "started", 30), ("r-2", "declined", 10), ("r-2", "declined", 10),
            ("r-3", "completed", 20), ("r-4", "prequalified", 5), ("r-5", "declined", 1)]
    start = threading.Barrier(len(sent))
    results, errors = [], []

    def record(event_id, event_type, minutes):
        try:
            start.wait(timeout=10)
            results.append(application_event_record(
                practice=world.practice_a, event_id=event_id, application_id="race-1", type=event_type,
                occurred_at=now - timedelta(minutes=minutes), patient_external_id="pms-race",
                patient_first_name="Ann", patient_last_name="Lee").created)
        except Exception as exc:  # surfaced below: a thread's failure must fail the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=record, args=args) for args in sent]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors, errors
    assert sorted(results) == [False] + [True] * 5
    application = Application.objects.get(practice=world.practice_a, external_id="race-1")
    assert sorted(ApplicationEvent.objects.values_list("application__external_id", "event_id")) == [
        ("race-1", f"r-{n}") for n in range(1, 6)]
    assert (application.state, application.declined_at) == ("declined", now - timedelta(minutes=10))
    assert Patient.objects.filter(practice=world.practice_a, external_id="pms-race").count() == 1
    alert_timers_fire()
    alerted = sorted(AlertDelivery.objects.values_list("alert", "user__email"))
    members = sorted([world.admin_ab.email, world.staff_a.email])
    assert alerted == sorted([("declined", m) for m in members] + [("prequalified", m) for m in members])
