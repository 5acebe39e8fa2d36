"""The Stripe path against a loopback fake of Stripe's API, and webhooks signed as Stripe signs them."""

import json
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail  # noqa: F401 - the outbox's email goes through the locmem backend
from django.utils import timezone

from notifications.models import Notification
from patients.models import Balance
from payments.models import GatewayEvent, Payment

from .conftest import ACCOUNT, pay_form
from .fake_stripe import refund_event, session_event


def _start(client, office, **choices) -> Payment:
    token = office.link()
    page = client.get(f"/p/{token}")
    response = client.post(f"/p/{token}", pay_form(page, **choices))
    assert response.status_code == 302, response.content[:500]
    payment = Payment.objects.get(checkout_session_id__isnull=False,
                                  link__notification_key=f"test:{office.counter}")
    assert response["Location"] == payment.checkout_url
    return payment


def test_a_checkout_session_is_created_on_the_connected_account_with_an_idempotency_key(
        client, office, fake_stripe, settings):
    payment = _start(client, office, choice="other", other_amount="42.50", payer_email="ana@example.test")
    [request] = fake_stripe.requests
    headers = {k.lower(): v for k, v in request["headers"].items()}
    form = request["form"]
    assert request["path"] == "/v1/checkout/sessions"
    assert headers["authorization"] == f"Bearer {settings.STRIPE_SECRET_KEY}"
    assert headers["stripe-account"] == ACCOUNT
    assert headers["idempotency-key"] == f"quickpay-checkout-{payment.pk}"
    assert form["mode"] == "payment" and form["payment_method_types[0]"] == "card"
    assert form["line_items[0][price_data][unit_amount]"] == "4250"
    assert form["line_items[0][price_data][currency]"] == "usd"
    assert form["customer_email"] == "ana@example.test"
    assert form["client_reference_id"] == str(payment.pk) == form["metadata[payment_id]"]
    assert form["success_url"].endswith("/paid?session_id={CHECKOUT_SESSION_ID}")
    assert "?cancelled=1" in form["cancel_url"]
    assert 30 * 60 <= int(form["expires_at"]) - time.time() <= 24 * 3600
    # Nothing about the patient goes to Stripe.
    sent = json.dumps(form)
    assert "Ana" not in sent and "Reyes" not in sent and "G-1" not in sent
    assert payment.checkout_url.startswith("https://checkout.stripe.test/")
    assert payment.stripe_account_id == ACCOUNT and payment.status == "pending"


def test_the_same_form_posted_twice_reuses_the_session(client, office, fake_stripe):
    token = office.link()
    form = pay_form(client.get(f"/p/{token}"))
    first = client.post(f"/p/{token}", form)
    Payment.objects.update(checkout_url="")  # as if the first answer never came back
    time.sleep(1.1)  # the retry comes a moment later: it must still send the same parameters
    second = client.post(f"/p/{token}", form)
    assert first["Location"] == second["Location"]
    keys = {r["headers"]["Idempotency-Key"] for r in fake_stripe.requests}
    assert len(fake_stripe.requests) == 2 and len(keys) == 1
    assert fake_stripe.requests[0]["form"] == fake_stripe.requests[1]["form"]


def test_a_retry_too_late_to_finish_asks_for_a_new_attempt(client, office, fake_stripe):
    token = office.link()
    form = pay_form(client.get(f"/p/{token}"))
    client.post(f"/p/{token}", form)
    Payment.objects.update(checkout_url="", created_at=timezone.now() - timedelta(minutes=40))
    response = client.post(f"/p/{token}", form)
    assert b"too old to finish" in response.content
    assert len(fake_stripe.requests) == 1 and Payment.objects.get().status == "pending"


def test_a_gateway_refusal_charges_nothing_and_says_so(client, office, fake_stripe):
    fake_stripe.fail_next = [(400, "invalid_request_error")]
    token = office.link()
    response = client.post(f"/p/{token}", pay_form(client.get(f"/p/{token}")))
    assert response.status_code == 503
    assert b"nothing was charged" in response.content
    assert Payment.objects.get().status == "failed"


def test_completed_checkout_records_the_payment_once(client, office, fake_stripe, post_event, hook_calls):
    payment = _start(client, office, choice="due")
    session = fake_stripe.sessions[payment.checkout_session_id]
    event = session_event("checkout.session.completed", session, email="payer@example.test",
                          payment_intent="pi_123")
    response = post_event(event)
    assert response.status_code == 200 and response.json() == {"received": True, "duplicate": False}
    payment.refresh_from_db()
    assert (payment.status, payment.amount, payment.payment_intent_id) == ("succeeded", 100, "pi_123")
    assert payment.payer_email == "payer@example.test" and payment.change_seq == 1
    balance = Balance.objects.get(guarantor=office.guarantor)
    assert (balance.total, balance.amount_due, balance.aging_over_120, balance.aging_current) == (
        Decimal("150.00"), Decimal("0.00"), Decimal("50.00"), Decimal("100.00"))
    assert [(c["source"], c["guarantor_ids"], c["in_transaction"]) for c in hook_calls] == [
        ("payment", [office.guarantor.pk], True)]
    receipt = Notification.objects.get(kind="payment_receipt")
    assert receipt.address == "payer@example.test" and "$100.00" in receipt.body
    # A replay of the event answers 2xx and changes nothing.
    replay = post_event(event)
    assert replay.status_code == 200 and replay.json()["duplicate"] is True
    assert Balance.objects.get(guarantor=office.guarantor).total == Decimal("150.00")
    assert Notification.objects.filter(kind="payment_receipt").count() == 1 and len(hook_calls) == 1
    # Another event reporting the same success (async succeeded) changes nothing either.
    post_event(session_event("checkout.session.async_payment_succeeded", session, payment_intent="pi_123"))
    assert Balance.objects.get(guarantor=office.guarantor).total == Decimal("150.00")
    assert Payment.objects.get().change_seq == 1


def test_the_gateways_amount_is_what_counts(client, office, fake_stripe, post_event):
    payment = _start(client, office, choice="full")
    session = {**fake_stripe.sessions[payment.checkout_session_id], "amount_total": 20000}
    post_event(session_event("checkout.session.completed", session))
    payment.refresh_from_db()
    assert payment.amount == Decimal("200.00")
    assert Balance.objects.get(guarantor=office.guarantor).total == Decimal("50.00")


def test_a_delayed_method_waits_then_async_failure_marks_it_failed(client, office, fake_stripe, post_event):
    payment = _start(client, office)
    session = fake_stripe.sessions[payment.checkout_session_id]
    post_event(session_event("checkout.session.completed", session, payment_status="unpaid"))
    payment.refresh_from_db()
    assert payment.status == "pending" and payment.payment_intent_id
    post_event(session_event("checkout.session.async_payment_failed", session, payment_status="unpaid"))
    payment.refresh_from_db()
    assert payment.status == "failed" and payment.failed_at
    assert Balance.objects.get(guarantor=office.guarantor).total == Decimal("250.00")
    assert not Notification.objects.filter(kind="payment_receipt").exists()


def test_async_success_after_a_delayed_method_records_the_payment(client, office, fake_stripe, post_event):
    payment = _start(client, office)
    session = fake_stripe.sessions[payment.checkout_session_id]
    post_event(session_event("checkout.session.completed", session, payment_status="unpaid"))
    post_event(session_event("checkout.session.async_payment_succeeded", session))
    payment.refresh_from_db()
    assert payment.status == "succeeded"
    assert Balance.objects.get(guarantor=office.guarantor).total == Decimal("150.00")


def test_an_expired_session_expires_the_pending_payment(client, office, fake_stripe, post_event):
    payment = _start(client, office)
    post_event(session_event("checkout.session.expired", fake_stripe.sessions[payment.checkout_session_id]))
    payment.refresh_from_db()
    assert payment.status == "expired" and payment.change_seq is None


def test_refunds_give_back_what_the_payment_took_and_show_on_the_account(
        client, client_of, world, office, fake_stripe, post_event, hook_calls):
    payment = _start(client, office, choice="due")
    session = fake_stripe.sessions[payment.checkout_session_id]
    post_event(session_event("checkout.session.completed", session, payment_intent="pi_9", account=ACCOUNT))
    post_event(refund_event(payment_intent="pi_9", amount=10000, amount_refunded=4000, account=ACCOUNT))
    payment.refresh_from_db()
    assert (payment.status, payment.amount_refunded, payment.change_seq) == (
        "partially_refunded", Decimal("40.00"), 2)
    assert Balance.objects.get(guarantor=office.guarantor).total == Decimal("190.00")
    full = refund_event(payment_intent="pi_9", amount=10000, amount_refunded=10000, account=ACCOUNT)
    post_event(full)
    post_event(full)  # a replay
    post_event(refund_event(payment_intent="pi_9", amount=10000, amount_refunded=10000))  # late duplicate
    payment.refresh_from_db()
    assert (payment.status, payment.amount_refunded, payment.change_seq) == ("refunded", Decimal("100.00"), 3)
    balance = Balance.objects.get(guarantor=office.guarantor)
    assert (balance.total, balance.amount_due, balance.aging_over_120, balance.aging_current) == (
        Decimal("250.00"), Decimal("100.00"), Decimal("150.00"), Decimal("100.00"))
    assert [c["source"] for c in hook_calls] == ["payment", "refund", "refund"]
    page = client_of(world.staff_a).get(f"/patients/guarantors/{office.guarantor.pk}/")
    assert b"Refunded" in page.content and b"\xe2\x88\x92$100.00 refunded" in page.content


@pytest.mark.parametrize("account", ["acct_SomeoneElse", None])
def test_an_event_of_another_or_no_connected_account_changes_nothing(client, office, fake_stripe, post_event,
                                                                     account):
    payment = _start(client, office)
    event = session_event("checkout.session.completed", fake_stripe.sessions[payment.checkout_session_id])
    event["account"] = account
    assert post_event(event).status_code == 200
    payment.refresh_from_db()
    assert payment.status == "pending"
    assert Balance.objects.get(guarantor=office.guarantor).total == Decimal("250.00")


@pytest.mark.parametrize("forgery", ["wrong secret", "no header", "garbage header", "old",
                                     "tampered body", "empty secret setting"])
def test_forged_or_stale_webhooks_are_refused_with_400(client, office, fake_stripe, post_event, settings,
                                                       forgery):
    payment = _start(client, office)
    event = session_event("checkout.session.completed", fake_stripe.sessions[payment.checkout_session_id])
    if forgery == "wrong secret":
        response = post_event(event, secret="whsec_not_ours")
    elif forgery == "no header":
        response = post_event(event, signature="")
    elif forgery == "garbage header":
        response = post_event(event, signature="t=abc,v1=\x00" + "z" * 5000)
    elif forgery == "old":
        response = post_event(event, timestamp=int(time.time()) - 301)
    elif forgery == "tampered body":
        from .fake_stripe import sign

        good = sign(json.dumps(event), settings.STRIPE_WEBHOOK_SECRET)
        event["data"]["object"]["amount_total"] = 1
        response = post_event(event, signature=good)
    else:
        settings.STRIPE_WEBHOOK_SECRET = ""
        response = post_event(event, secret="")
    assert response.status_code == 400
    assert Payment.objects.get().status == "pending" and not GatewayEvent.objects.exists()


def test_a_webhook_within_the_tolerance_is_accepted(client, office, fake_stripe, post_event):
    payment = _start(client, office)
    event = session_event("checkout.session.completed", fake_stripe.sessions[payment.checkout_session_id])
    assert post_event(event, timestamp=int(time.time()) - 240).status_code == 200


@pytest.mark.parametrize("body", ["not json", "[]", '{"id": 5}', '{"id": "evt_1", "type": "x", "data": {}}',
                                  b"\xff\xfe{}", "x" * 300_000])
def test_signed_nonsense_and_huge_bodies_are_400_not_500(client, settings, body):
    from django.urls import reverse

    from .fake_stripe import sign

    payload = body if isinstance(body, bytes) else body.encode()
    response = client.post(reverse("stripe_webhook"), payload, content_type="application/json",
                           headers={"Stripe-Signature": sign(payload, settings.STRIPE_WEBHOOK_SECRET)})
    assert response.status_code == 400


def test_unknown_event_types_are_acknowledged_and_ignored(office, post_event):
    from .fake_stripe import event

    response = post_event(event("customer.created", {"id": "cus_1", "object": "customer"}))
    assert response.status_code == 200
    assert GatewayEvent.objects.get().type == "customer.created"


def test_a_failing_hook_rolls_everything_back_and_stripe_may_retry(client, office, fake_stripe, post_event,
                                                                    settings):
    payment = _start(client, office, payer_email="payer@example.test")
    event = session_event("checkout.session.completed", fake_stripe.sessions[payment.checkout_session_id])
    settings.BALANCE_CHANGED_HOOKS = ["tests.payments.hooks.explode"]
    assert post_event(event).status_code == 503
    payment.refresh_from_db()
    assert payment.status == "pending" and payment.change_seq is None
    assert Balance.objects.get(guarantor=office.guarantor).total == Decimal("250.00")
    assert not Notification.objects.exists() and not GatewayEvent.objects.exists()
    settings.BALANCE_CHANGED_HOOKS = []
    assert post_event(event).status_code == 200  # Stripe's retry goes through
    assert Payment.objects.get().status == "succeeded"
    assert Notification.objects.filter(kind="payment_receipt").count() == 1
