"""Events of one new application arriving at the same moment: one application, one patient, each
event once, the state of the latest, and each alert to each member once.

Each thread is its own database session, as the web server's processes are.
"""

import threading
import time
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


def _record(world, event_id, application_id, patient="pms-wait", event_type="started"):
    return application_event_record(
        practice=world.practice_a, event_id=event_id, application_id=application_id, type=event_type,
        occurred_at=timezone.now() - timedelta(minutes=1), patient_external_id=patient,
        patient_first_name="Ann", patient_last_name="Lee")


def _while_uncommitted(world, first: tuple, second: tuple):
    """Record `first` in a transaction left open while `second` is recorded in another session
    (which waits for it on a key both write), then commit it. Returns the second's statements."""
    from django.db import transaction
    from django.test.utils import CaptureQueriesContext

    written, errors, statements = threading.Event(), [], []

    def hold():
        try:
            with transaction.atomic():
                _record(world, *first)
                written.set()
                time.sleep(0.5)  # the second call is waiting on our key meanwhile
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    def follow():
        try:
            written.wait(timeout=10)
            with CaptureQueriesContext(connection) as captured:
                _record(world, *second)
            statements.extend(q["sql"] for q in captured.captured_queries)
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=hold), threading.Thread(target=follow)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors, errors
    return statements


@pytest.mark.django_db(transaction=True)
def test_a_new_patient_created_meanwhile_by_another_application_is_the_one_linked(world):
    statements = _while_uncommitted(world, ("w-1", "app-1"), ("w-2", "app-2"))
    patient = Patient.objects.get(practice=world.practice_a, external_id="pms-wait")
    assert set(Application.objects.values_list("external_id", "patient_id")) == {
        ("app-1", patient.pk), ("app-2", patient.pk)}
    # The one statement wrote nothing and said why; the ORM's path found the patient.
    assert any('FROM "patients_patient"' in sql for sql in statements)


@pytest.mark.django_db(transaction=True)
def test_an_application_created_meanwhile_gets_the_event_on_top(world):
    Patient.objects.create(practice=world.practice_a, external_id="pms-wait", first_name="Ann",
                           last_name="Lee")
    statements = _while_uncommitted(world, ("w-1", "app-1", "pms-wait", "started"),
                                    ("w-2", "app-1", "pms-wait", "declined"))
    application = Application.objects.get(practice=world.practice_a, external_id="app-1")
    assert application.state == "declined" and application.started_at and application.declined_at
    assert sorted(ApplicationEvent.objects.values_list("event_id", flat=True)) == ["w-1", "w-2"]
    assert any('FROM "payments_alerttimer"' in sql for sql in statements)  # applied as a later event


@pytest.mark.django_db
def test_an_event_id_recorded_for_another_application_leaves_no_new_application_or_patient(world):
    assert _record(world, "same-id", "app-1", patient="pms-1").created
    result = _record(world, "same-id", "app-2", patient="pms-2", event_type="declined")
    assert not result.created and result.event.application.external_id == "app-1"
    assert not Application.objects.filter(external_id="app-2").exists()
    assert not Patient.objects.filter(external_id="pms-2").exists()
