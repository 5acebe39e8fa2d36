"""Applications are linked to the practice's patient record, found by PMS id or created."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from patients.models import Patient
from patients.services import patients_bulk_upsert
from payments.models import Application
from tests.alerts.conftest import emails_to


@pytest.fixture
def t0(world):
    """Just after the team was created: members get alerts about what happens after they join."""
    return timezone.now() + timedelta(seconds=30)


def test_an_unknown_patient_is_created_as_their_own_guarantor(t0, post_event, world):
    assert post_event("started", at=t0, application="fin-1").status_code == 202
    application = Application.objects.get(practice=world.practice_a, external_id="fin-1")
    patient = application.patient
    assert (patient.practice, patient.external_id, patient.first_name, patient.last_name) == (
        world.practice_a, "pms-77", "Maria", "Garcia")
    assert patient.guarantor_id == patient.pk
    post_event("completed", at=t0, application="fin-1")
    assert Patient.objects.filter(external_id="pms-77").count() == 1


def test_a_known_patient_is_linked_and_keeps_the_pms_details(t0, post_event, world):
    patients_bulk_upsert(practice=world.practice_a, items=[
        {"external_id": "pms-77", "first_name": "María", "last_name": "García-Lopez",
         "email": "maria@example.test"}])
    post_event("declined", at=t0, application="fin-2")
    patient = Patient.objects.get(practice=world.practice_a, external_id="pms-77")
    assert Application.objects.get(external_id="fin-2").patient == patient
    patient.refresh_from_db()
    assert (patient.first_name, patient.last_name) == ("María", "García-Lopez")
    [email] = emails_to(world.staff_a)
    assert f"/patients/{patient.pk}/?office=lakeside" in email.body


def test_the_same_pms_id_in_another_practice_is_another_patient(t0, post_event, world):
    post_event("started", at=t0, application="fin-3", office="a")
    post_event("started", at=t0, application="fin-3", office="c")
    a = Application.objects.get(practice=world.practice_a, external_id="fin-3").patient
    c = Application.objects.get(practice=world.practice_c, external_id="fin-3").patient
    assert a != c and (a.practice, c.practice) == (world.practice_a, world.practice_c)


def test_the_alert_link_opens_the_patient_in_the_right_office(t0, post_event, client_of, world):
    post_event("declined", at=t0, application="fin-4")
    patient = Application.objects.get(external_id="fin-4").patient
    client = client_of(world.admin_ab, office="hillcrest")
    offer = client.get(f"/patients/{patient.pk}/?office=lakeside").content.decode()
    assert "Switch to Lakeside Dental" in offer and "Maria Garcia" not in offer
    page = client.post("/office/switch/", {"practice": "lakeside", "next": f"/patients/{patient.pk}/"},
                       follow=True)
    assert page.status_code == 200 and page.context["current_practice"] == world.practice_a
    assert "Maria Garcia" in page.content.decode()


def test_an_event_naming_another_patient_for_the_same_application_is_refused(t0, post_event, world):
    post_event("declined", at=t0, application="fin-5")
    response = post_event("started", at=t0 - timedelta(days=3), application="fin-5",
                          patient={"external_id": "NEW-77", "first_name": "Other", "last_name": "Person"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "patient", "external_id"]
    application = Application.objects.get(external_id="fin-5")
    assert application.patient.external_id == "pms-77" and application.events.count() == 1
    assert not Patient.objects.filter(external_id="NEW-77").exists()


def test_an_offset_no_time_zone_has_is_refused_with_422(t0, post_event, world):
    response = post_event("started", at=t0, application="fin-6",
                          raw={"event_id": "evt-tz", "application_id": "fin-6", "type": "started",
                               "occurred_at": "2026-01-01T01:54:13-17:26",
                               "patient": {"external_id": "p1", "first_name": "A", "last_name": "B"}})
    assert response.status_code == 422
    assert "offset" in json.dumps(response.json())
    assert not Application.objects.filter(external_id="fin-6").exists()
