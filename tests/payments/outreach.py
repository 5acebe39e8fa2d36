"""Building an office's outreach history at chosen moments, through the app's own services: an
outbox row (then moved to the status its provider would have reported), the QuickPay link it
carried, the page opened, a payment through the sandbox gateway, a refund."""

import secrets
from datetime import datetime, timedelta
from decimal import Decimal

import time_machine
from django.test import Client

from notifications.models import Notification
from notifications.services import Recipient, notification_schedule
from payments import settlement
from payments.checkout import payment_start
from payments.gateways import sandbox_checkout_get, sandbox_checkout_pay
from payments.models import Payment
from payments.quickpay import LinkRequest, quickpay_link_find, quickpay_links_mint, quickpay_page


def message(practice, guarantor, key: str, *, kind: str, channel: str, status: str, at: datetime,
            **extra) -> Notification:
    """A message queued at `at`, then in `status` (sent at `at` when it was sent)."""
    address = {"email": "payer@example.test"}.get(channel, "+13125550142")
    with time_machine.travel(at, tick=False):
        n = notification_schedule(
            practice=practice, recipient=Recipient(kind="patient", id=guarantor.pk, name="Ana Reyes"),
            channel=channel, address=address, kind=kind, body="Lakeside Dental: a balance.",
            idempotency_key=key, send_at=at + timedelta(days=30))
        sent = status not in ("queued", "will_not_send", "cancelled", "queueing_error")
        Notification.objects.filter(pk=n.pk).update(status=status, sent_at=at if sent else None, **extra)
    return n


def link(practice, guarantor, key: str, *, source: str, channel: str, at: datetime, level=None) -> str:
    """Mint the link of the message keyed `key` at `at`; returns its token."""
    with time_machine.travel(at, tick=False):
        [url] = quickpay_links_mint(practice=practice, items=[LinkRequest(
            guarantor_id=guarantor.pk, notification_key=key, source=source, channel=channel,
            dunning_level=level)])
    return url.rsplit("/", 1)[1]


def open_page(token: str, at: datetime) -> None:
    with time_machine.travel(at, tick=False):
        assert Client().get(f"/p/{token}").status_code == 200


def pay(token: str, amount: str, at: datetime, *, email: str = "") -> Payment:
    """Pay through the link with the sandbox's test card at `at` (the page is opened first, as a
    payer does)."""
    open_page(token, at)
    with time_machine.travel(at, tick=False):
        page = quickpay_page(link=quickpay_link_find(token=token), verified=True)
        payment = payment_start(page=page, amount=Decimal(amount), payer_email=email,
                                attempt=secrets.token_urlsafe(16), return_url=f"http://testserver/p/{token}")
        refusal = sandbox_checkout_pay(checkout=sandbox_checkout_get(session_id=payment.checkout_session_id),
                                       card_number="4242424242424242", email=email)
        assert refusal == ""
    payment.refresh_from_db()
    return payment


def refund(payment: Payment, amount: str, at: datetime) -> None:
    with time_machine.travel(at, tick=False):
        settlement.charge_refunded(payment_intent_id=payment.payment_intent_id,
                                   amount_refunded_cents=int(Decimal(amount) * 100))


def fail(token: str, amount: str, at: datetime) -> Payment:
    """A checkout the payer abandoned, which the gateway then reports failed."""
    with time_machine.travel(at, tick=False):
        page = quickpay_page(link=quickpay_link_find(token=token), verified=True)
        payment = payment_start(page=page, amount=Decimal(amount), payer_email="",
                                attempt=secrets.token_urlsafe(16), return_url=f"http://testserver/p/{token}")
        settlement.checkout_failed(session_id=payment.checkout_session_id, reason="card declined")
    payment.refresh_from_db()
    return payment
