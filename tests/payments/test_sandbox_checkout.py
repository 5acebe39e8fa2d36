"""The sandbox gateway's checkout and the whole loop it completes: payment, balance, dunning stop,
receipt, in one transaction."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from notifications.dispatch import drain_inline
from notifications.models import Notification
from notifications.services import Recipient, notification_schedule
from patients.models import Balance
from payments.models import Payment, SandboxCheckout

from .conftest import pay_form

CARD = {"email": "ana.payer@example.test", "card_number": "4242 4242 4242 4242", "expiry": "12/39",
        "cvc": "123"}


def _checkout(client, office, **choices):
    token = office.link()
    response = client.post(f"/p/{token}", pay_form(client.get(f"/p/{token}"), **choices))
    assert response.status_code == 302
    return token, response["Location"]


def _dunning(office, days=7):
    return notification_schedule(
        practice=office.practice,
        recipient=Recipient(kind="patient", id=office.guarantor.pk, name="Ana Reyes"),
        channel="sms", address="+13125550111", kind="balance_dunning", body="Lakeside Dental: a balance.",
        idempotency_key=f"statement:1:level:{days}:sms", send_at=timezone.now() + timedelta(days=days))


def test_paying_the_full_balance_lowers_it_stops_the_dunning_and_mails_a_receipt(client, office, hook_calls):
    waiting = _dunning(office)
    token, checkout_url = _checkout(client, office, choice="full")
    page = client.get(checkout_url)
    assert page.status_code == 200 and b"$250.00" in page.content and b"Test mode" in page.content
    assert page["Cache-Control"] == "no-store"
    done = client.post(checkout_url, CARD)
    assert done.status_code == 302 and f"/p/{token}/paid?session_id=cs_sandbox_" in done["Location"]
    payment = Payment.objects.get()
    assert (payment.status, payment.amount) == ("succeeded", 250)
    assert payment.payer_email == "ana.payer@example.test"
    assert Balance.objects.get(guarantor=office.guarantor).total == 0
    waiting.refresh_from_db()
    assert (waiting.status, waiting.reason_code) == ("will_not_send", "balance_paid")
    assert hook_calls[0]["totals"] == {office.guarantor.pk: Decimal("0.00")}  # the hook saw the new balance
    thanks = client.get(done["Location"])
    assert b"Thank you" in thanks.content and b"$250.00" in thanks.content
    # The receipt goes through the outbox to the payer.
    drain_inline()
    [receipt] = mail.outbox
    assert receipt.to == ["ana.payer@example.test"] and "Lakeside Dental" in receipt.subject
    assert "$250.00" in receipt.body and f"QP-{payment.pk:06d}" in receipt.body
    # The page now has nothing to pay, and the checkout cannot be paid twice.
    assert b"Nothing to pay" in client.get(f"/p/{token}").content
    again = client.post(checkout_url, CARD)
    assert again.status_code == 302 and Payment.objects.get().change_seq == 1


def test_a_part_payment_leaves_the_dunning_alone(client, office, hook_calls):
    waiting = _dunning(office)
    _token, checkout_url = _checkout(client, office, choice="other", other_amount="20")
    client.post(checkout_url, {**CARD, "email": ""})
    assert Balance.objects.get(guarantor=office.guarantor).total == Decimal("230.00")
    waiting.refresh_from_db()
    assert waiting.status == "queued"
    assert not Notification.objects.filter(kind="payment_receipt").exists()  # no address given


@pytest.mark.parametrize(("card", "message"), [
    ("4000 0000 0000 0002", b"declined"), ("4000000000009995", b"insufficient funds"),
    ("4111 1111 1111 1111", b"test cards only"),
])
def test_declined_and_unknown_cards_leave_the_payment_pending(client, office, card, message):
    _token, checkout_url = _checkout(client, office)
    response = client.post(checkout_url, {**CARD, "card_number": card})
    assert response.status_code == 402 and message in response.content
    assert Payment.objects.get().status == "pending"
    assert Balance.objects.get(guarantor=office.guarantor).total == Decimal("250.00")


@pytest.mark.parametrize(("field", "value"), [
    ("card_number", "4242"), ("card_number", "4242 4242 4242 4242\x00"), ("card_number", "9" * 5000),
    ("expiry", "13/30"), ("expiry", "01/20"), ("expiry", "1/1"), ("cvc", "12"), ("cvc", "١٢٣"),
    ("email", "not-an-email"),
])
def test_bad_card_fields_are_refused_naming_the_field(client, office, field, value):
    _token, checkout_url = _checkout(client, office)
    response = client.post(checkout_url, {**CARD, field: value})
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert Payment.objects.get().status == "pending"


def test_an_expired_sandbox_checkout_expires_the_payment(client, office):
    _token, checkout_url = _checkout(client, office)
    SandboxCheckout.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client.post(checkout_url, CARD)
    assert response.status_code == 410 and b"expired" in response.content
    assert Payment.objects.get().status == "expired"


def test_the_sandbox_checkout_does_not_exist_when_stripe_is_the_gateway(client, office, settings):
    _token, checkout_url = _checkout(client, office)
    settings.PAYMENTS_GATEWAY = "stripe"
    assert client.get(checkout_url).status_code == 404
    assert client.post(checkout_url, CARD).status_code == 404
    assert client.get("/checkout/sandbox/" + "x" * 5000 + "/").status_code == 404
