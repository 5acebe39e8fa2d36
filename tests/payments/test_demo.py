"""The demo's bulk payment requests: today's list, snoozes, requests and an undeliverable, made once."""

import pytest
from django.core.management import call_command

from notifications.models import Notification

pytestmark = pytest.mark.django_db


def test_seed_demo_makes_todays_list_with_snoozes_requests_and_an_undeliverable_once():
    from payments.models import PaymentRequestCampaign, RequestList, Snooze

    call_command("seed_demo")
    campaigns = PaymentRequestCampaign.objects.filter(practice__slug="bright-smiles-downtown")
    assert campaigns.count() == 3 and campaigns.filter(state="undeliverable").count() == 1
    assert Snooze.objects.filter(ended_at__isnull=True).count() == 2
    assert RequestList.objects.get(practice__slug="bright-smiles-downtown").size > 5
    requests = Notification.objects.filter(kind="payment_request", idempotency_key__startswith="payreq:")
    assert requests.count() == 2 * 3  # two reachable guarantors: a request and 2 reminders each
    call_command("seed_demo")
    assert PaymentRequestCampaign.objects.count() == 3
