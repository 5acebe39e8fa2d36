"""A provider replays a day of events in a burst: recording one costs a fixed handful of statements
(two for an application's first event), and firing the alerts they make due costs the same for
many applications as for a few.

Counts include a SAVEPOINT and its RELEASE: inside the test's transaction they stand where a
request has its BEGIN and COMMIT.
"""

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from notifications.models import Notification
from payments.alerts import alert_timers_fire
from payments.models import AlertDelivery, AlertTimer, Application
from payments.services import application_event_record
from practices.models import Membership, Role
from tests.factories import UserFactory

T0 = datetime(2027, 3, 1, 15, 0, tzinfo=UTC)
_ids = itertools.count(1)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def clock(world, time_machine):
    time_machine.move_to(T0, tick=False)
    return time_machine


@pytest.fixture
def post(client, keys):
    """The API call alone: what runs after its commit (asking a worker to fire alerts) does not."""

    def call(type_, *, application, patient="pms-1", event_id=None):
        body = {"event_id": event_id or f"q-{next(_ids)}", "application_id": application, "type": type_,
                "occurred_at": (T0 - timedelta(minutes=1)).isoformat(),
                "patient": {"external_id": patient, "first_name": "Ann", "last_name": "Lee"}}
        return client.post("/api/v1/applications/events", body, content_type="application/json",
                           headers={"Authorization": f"Bearer {keys['a']}"})

    return call


def _grow_team(practice, size):
    for _ in range(size):
        Membership.objects.create(user=UserFactory(), practice=practice, role=Role.STAFF)


@pytest.mark.parametrize("extra_members", [0, 10])
def test_a_first_event_with_a_new_patient_costs_two_statements_whatever_the_team(
        post, world, django_assert_num_queries, extra_members):
    _grow_team(world.practice_a, extra_members)
    post("started", application="warm-up", patient="pms-0")  # the key is looked up, its use recorded
    # The application looked up (locked), then patient, application, event and timer in one.
    with django_assert_num_queries(2 + 2):
        assert post("declined", application="fin-1", patient="pms-new").status_code == 202
    with django_assert_num_queries(2 + 2):  # a patient the office knows: the same statement
        assert post("declined", application="fin-2", patient="pms-new").status_code == 202
    application = Application.objects.select_related("patient").get(external_id="fin-2")
    assert application.patient.external_id == "pms-new" and application.patient.guarantor_id == \
        application.patient_id
    assert Application.objects.get(external_id="fin-1").patient_id == application.patient_id
    assert AlertTimer.objects.filter(application=application, alert="declined", status="pending").exists()


def test_a_later_event_of_a_known_application_costs_six_statements(post, django_assert_max_num_queries):
    post("started", application="fin-1")
    with django_assert_max_num_queries(6 + 2):  # cancels the incomplete timer, arms the declined one
        response = post("declined", application="fin-1")
    assert response.status_code == 202 and response.json()["application_state"] == "declined"


def test_a_repeated_event_costs_two_statements(post, django_assert_max_num_queries):
    post("declined", application="fin-1", event_id="same")
    with django_assert_max_num_queries(2 + 3):  # its transaction is rolled back: one more
        assert post("declined", application="fin-1", event_id="same").status_code == 200


def _record(world, count):
    for _ in range(count):
        n = next(_ids)
        application_event_record(practice=world.practice_a, event_id=f"f-{n}", application_id=f"fin-{n}",
                                 type="declined", occurred_at=T0, patient_external_id=f"pms-{n}",
                                 patient_first_name="Ann", patient_last_name="Lee")


def test_firing_the_alerts_of_a_burst_costs_the_same_for_forty_applications_as_for_five(world):
    _record(world, 5)
    with CaptureQueriesContext(connection) as few:
        assert alert_timers_fire()["timers_fired"] == 5
    _grow_team(world.practice_a, 6)
    _record(world, 40)
    with CaptureQueriesContext(connection) as many:
        assert alert_timers_fire()["timers_fired"] == 40
    # The outbox stages more than a few rows with COPY: at most one statement more, whatever the count.
    assert len(few) <= len(many) <= len(few) + 1 <= 14
    members = Membership.objects.filter(practice=world.practice_a).count()
    assert AlertDelivery.objects.count() == 5 * 2 + 40 * members
    assert Notification.objects.filter(kind="application_alert").count() == 5 * 2 + 40 * members


def test_an_application_whose_alerts_cannot_fire_never_holds_up_the_rest_of_its_chunk(world, caplog):
    _record(world, 3)
    stuck = Application.objects.order_by("pk")[1]
    # A key the alert needs, taken by another practice's message: the outbox refuses the chunk.
    Notification.objects.create(practice=world.practice_c, recipient_kind="user", recipient_id=1,
                                channel="email", kind="other", send_at=T0,
                                idempotency_key=f"app-alert:{stuck.pk}:declined:{world.staff_a.pk}")
    assert alert_timers_fire() == {"timers_fired": 2, "timers_failed": 1}
    assert set(AlertDelivery.objects.values_list("application_id", flat=True)) == {
        a.pk for a in Application.objects.exclude(pk=stuck.pk)}
    assert AlertTimer.objects.get(application=stuck).status == "pending"
    assert f"alerts of application {stuck.pk} could not fire" in caplog.text
