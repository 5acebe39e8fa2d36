"""The patient and guarantor dashboards list the messages sent to that person, from the outbox."""

import pytest
from django.urls import reverse

from notifications.services import Recipient, notification_schedule
from patients.models import Patient
from patients.services import patients_bulk_upsert
from tests.patients.records import family

pytestmark = pytest.mark.django_db


def _message(practice, patient_id, key, kind="balance_on_demand"):
    return notification_schedule(
        practice=practice, recipient=Recipient(kind="patient", id=patient_id, name="Ana R."),
        channel="email", address="ana.reyes@example.test", kind=kind, subject="Your balance",
        body="You have a balance.", idempotency_key=key)


def test_guarantor_dashboard_lists_messages_to_the_guarantor_only(client_of, world):
    patients_bulk_upsert(practice=world.practice_a, items=family("F1"))
    guarantor = Patient.objects.get(practice=world.practice_a, external_id="F1-g")
    child = Patient.objects.get(practice=world.practice_a, external_id="F1-kid1")
    sent = _message(world.practice_a, guarantor.pk, "hist-1")
    _message(world.practice_a, child.pk, "hist-2", kind="payment_request")
    # Another practice's message that happens to carry the same recipient id must not show.
    _message(world.practice_c, guarantor.pk, "hist-3", kind="other_practice_kind")

    page = client_of(world.staff_a).get(reverse("guarantor_detail", args=[guarantor.pk]))
    history = list(page.context["history"])
    assert [n.pk for n in history] == [sent.pk]
    body = page.content.decode()
    assert reverse("notification_detail", args=[sent.pk]) in body
    assert "other_practice_kind" not in body and "payment_request" not in body


def test_patient_dashboard_shows_an_empty_history_clearly(client_of, world):
    patients_bulk_upsert(practice=world.practice_a, items=family("F1"))
    child = Patient.objects.get(practice=world.practice_a, external_id="F1-kid2")
    page = client_of(world.staff_a).get(reverse("patient_detail", args=[child.pk]))
    assert "No messages yet." in page.content.decode()
