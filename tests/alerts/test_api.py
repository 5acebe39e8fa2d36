"""POST /api/v1/applications/events: acceptance, idempotency, validation, authentication."""

from datetime import UTC, datetime, timedelta

import pytest

from payments.models import Application, ApplicationEvent

T0 = datetime(2027, 3, 1, 15, 0, tzinfo=UTC)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def clock(world, time_machine):
    # The team exists before the travel: the world fixture runs at the real time, months earlier.
    time_machine.move_to(T0, tick=False)
    return time_machine


def test_an_event_is_accepted_and_creates_the_application(post_event, world):
    response = post_event("started", at=T0 - timedelta(hours=1), application="fin-1")
    assert response.status_code == 202
    assert response.json() == {"event_id": response.json()["event_id"], "application_id": "fin-1",
                               "status": "accepted", "application_state": "started"}
    application = Application.objects.get(practice=world.practice_a, external_id="fin-1")
    assert (application.patient_external_id, application.patient_first_name,
            application.patient_last_name) == ("pms-77", "Maria", "Garcia")
    assert application.started_at == T0 - timedelta(hours=1)


def test_the_same_event_id_again_answers_200_and_changes_nothing(post_event, world):
    first = post_event("started", at=T0, event_id="evt-same")
    again = post_event("declined", at=T0, event_id="evt-same")
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["status"] == "duplicate"
    assert ApplicationEvent.objects.filter(event_id="evt-same").count() == 1
    assert Application.objects.get(practice=world.practice_a).state == "started"


def test_event_ids_are_per_practice(post_event):
    assert post_event("started", at=T0, event_id="shared", office="a").status_code == 202
    assert post_event("started", at=T0, event_id="shared", office="b").status_code == 202


def test_an_application_id_of_another_practice_is_another_application(post_event, world):
    post_event("started", at=T0, application="same", office="a")
    post_event("declined", at=T0, application="same", office="b")
    assert Application.objects.get(practice=world.practice_a).state == "started"
    assert Application.objects.get(practice=world.practice_b).state == "declined"


def _body(**changes):
    body = {"event_id": "e-1", "application_id": "fin-1", "type": "started",
            "occurred_at": "2027-03-01T08:00:00-06:00",
            "patient": {"external_id": "pms-1", "first_name": "Ann", "last_name": "Lee"}}
    for key, value in changes.items():
        if value is None:
            body.pop(key)
        else:
            body[key] = value
    return body


@pytest.mark.parametrize(("body", "field"), [
    (_body(event_id=None), "event_id"),
    (_body(application_id=""), "application_id"),
    (_body(type="cancelled"), "type"),
    (_body(type=None), "type"),
    (_body(occurred_at="2027-03-01T08:00:00"), "occurred_at"),  # no offset
    (_body(occurred_at="yesterday"), "occurred_at"),
    (_body(occurred_at="2027-03-01T15:05:01+00:00"), "occurred_at"),  # 5 min 1 s ahead
    (_body(patient=None), "patient"),
    (_body(patient={"external_id": "pms-1", "first_name": "Ann"}), "last_name"),
    (_body(patient={"external_id": "p\x00", "first_name": "Ann", "last_name": "Lee"}), "external_id"),
    (_body(event_id="x" * 101), "event_id"),
    # The patient record keeps at most 64 characters of the PMS id: longer was a database error.
    (_body(patient={"external_id": "p" * 65, "first_name": "Ann", "last_name": "Lee"}), "external_id"),
    (_body(patient={"external_id": "\u202e" + "1" * 99, "first_name": "Ann", "last_name": "Lee"}),
     "external_id"),
])
def test_bad_events_answer_422_with_the_field(post_event, body, field):
    response = post_event(None, at=T0, raw=body)
    assert response.status_code == 422
    locations = [error["loc"][-1] for error in response.json()["detail"]]
    assert field in locations
    assert not ApplicationEvent.objects.exists()


def test_an_event_up_to_5_minutes_ahead_is_accepted(post_event):
    response = post_event(None, at=T0, raw=_body(occurred_at="2027-03-01T15:05:00+00:00"))
    assert response.status_code == 202


def test_a_body_that_is_not_json_answers_4xx(client, keys):
    response = client.post("/api/v1/applications/events", "not json", content_type="application/json",
                           headers={"Authorization": f"Bearer {keys['a']}"})
    assert 400 <= response.status_code < 500


@pytest.mark.parametrize("header", [None, "Bearer bo_not-a-real-key", "Basic abc"])
def test_a_bad_key_answers_401(client, world, header):
    headers = {"Authorization": header} if header else {}
    response = client.post("/api/v1/applications/events", _body(), content_type="application/json",
                           headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert not ApplicationEvent.objects.exists()


def test_a_revoked_key_answers_401(client, world, keys):
    from practices.models import ApiKey
    from practices.services import api_key_revoke

    for key in ApiKey.objects.filter(practice=world.practice_a):
        api_key_revoke(api_key=key)
    response = client.post("/api/v1/applications/events", _body(), content_type="application/json",
                           headers={"Authorization": f"Bearer {keys['a']}"})
    assert response.status_code == 401


def test_state_follows_occurred_at_not_arrival(post_event, world):
    post_event("activated", at=T0 - timedelta(hours=1))
    post_event("approved", at=T0 - timedelta(days=1))
    post_event("started", at=T0 - timedelta(days=3))
    application = Application.objects.get(practice=world.practice_a)
    assert application.state == "activated"
    assert application.state_at == T0 - timedelta(hours=1)
    assert list(application.events.values_list("type", flat=True)) == ["started", "approved", "activated"]
