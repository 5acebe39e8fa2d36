"""The demo has a QuickPay link in a message to a Downtown guarantor, made once, that pays."""

import re

import pytest
from django.core.management import call_command

from notifications.models import Notification
from payments.models import Payment, QuickPayLink

from .conftest import pay_form

pytestmark = pytest.mark.django_db


def test_seed_demo_sends_a_quickpay_link_once_and_it_pays_in_the_sandbox(client, capsys, settings):
    call_command("seed_demo")
    printed = capsys.readouterr().out
    [url] = re.findall(r"pay at (\S+/p/[A-Za-z0-9_-]{22})", printed)
    email = Notification.objects.get(idempotency_key="quickpay-demo:bright-smiles-downtown:email")
    assert url in email.body
    assert Notification.objects.filter(kind="balance_dunning", status="queued",
                                       recipient_id=email.recipient_id).exists()  # the later reminder
    call_command("seed_demo")
    assert "Dev outbox" in capsys.readouterr().out
    # The email's and the text's, made once.
    assert QuickPayLink.objects.filter(notification_key__startswith="quickpay-demo:").count() == 2
    path = url.removeprefix(settings.PUBLIC_BASE_URL)
    started = client.post(path, pay_form(client.get(path), choice="full"))
    done = client.post(started["Location"], {"card_number": "4242424242424242", "expiry": "12/39",
                                             "cvc": "123", "email": "demo.payer@example.test"})
    assert done.status_code == 302
    assert Payment.objects.get().status == "succeeded"
    assert Notification.objects.filter(kind="payment_receipt", address="demo.payer@example.test").exists()


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
