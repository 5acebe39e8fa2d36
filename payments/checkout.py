"""Starting a payment from the QuickPay page: the amount the payer chose, a pending Payment, and a
checkout session at the gateway."""

from datetime import timedelta
from decimal import Decimal
from enum import StrEnum

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from .attribution import link_attribution
from .gateways import CheckoutRequest, GatewayUnavailable, gateway
from .models import Payment, PaymentStatus
from .quickpay import PageState, QuickPayPage, link_payment_settings

MIN_OTHER_AMOUNT = Decimal("1.00")
# Stripe accepts 30 minutes to 24 hours; an hour is plenty to type a card number.
CHECKOUT_LIFETIME = timedelta(hours=1)
CHECKOUT_SHORTEST = timedelta(minutes=31)  # Stripe refuses a session that expires sooner than 30 minutes


class AmountChoice(StrEnum):
    DUE = "due"
    FULL = "full"
    OTHER = "other"


def amount_choose(*, page: QuickPayPage, choice: str, other: Decimal | None) -> Decimal:
    """The amount for the payer's choice: amount due, full balance, or another amount between $1
    and the balance. Raises ValidationError naming the field."""
    if choice == AmountChoice.DUE and page.amount_due > 0:
        return page.amount_due
    if choice == AmountChoice.FULL:
        return page.total
    if choice == AmountChoice.OTHER:
        if other is None:
            raise ValidationError({"other_amount": "Enter the amount you want to pay."})
        if other < MIN_OTHER_AMOUNT:
            raise ValidationError({"other_amount": f"The amount must be at least ${MIN_OTHER_AMOUNT}."})
        if other > page.total:
            raise ValidationError({"other_amount": f"The amount can be at most the balance, "
                                                   f"${page.total:,}."})
        return other
    raise ValidationError({"choice": "Choose how much to pay."})


def payment_start(*, page: QuickPayPage, amount: Decimal, payer_email: str, attempt: str,
                  return_url: str) -> Payment:
    """Create the pending payment and its checkout session; the caller sends the payer to
    `payment.checkout_url`.

    The form's attempt id makes a double submit start one checkout: the same attempt returns the
    same payment (and the gateway's idempotency key the same session). The gateway is called
    outside any transaction; when it fails, the payment is marked failed and GatewayUnavailable
    is raised, with nothing charged.
    """
    if page.state != PageState.PAYABLE:
        raise ValidationError("This balance cannot be paid online.")
    link = page.link
    settings_row = link_payment_settings(link)
    engine = gateway()
    try:
        with transaction.atomic():
            payment, created = Payment.objects.get_or_create(link=link, attempt=attempt, defaults={
                "practice": link.practice, "guarantor": link.guarantor, "amount": amount,
                "gateway": engine.name, "stripe_account_id": settings_row.stripe_account_id,
                "payer_email": payer_email, **link_attribution(link)})
    except IntegrityError:  # the same attempt posted twice at once: the first one stands
        payment = Payment.objects.get(link=link, attempt=attempt)
        created = False
    if not created:
        if payment.amount != amount or payment.status != PaymentStatus.PENDING:
            raise ValidationError("This form was already used; choose the amount again.")
        if payment.checkout_url:
            return payment
    # From the attempt's creation, not from now: a retry of a lost answer must send the gateway
    # the very parameters of the first call, or its idempotency key refuses it.
    expires_at = payment.created_at + CHECKOUT_LIFETIME
    if expires_at - timezone.now() < CHECKOUT_SHORTEST:
        raise ValidationError("This payment attempt is too old to finish; choose the amount again.")
    request = CheckoutRequest(
        payment_id=payment.pk, amount_cents=int(amount * 100), currency=payment.currency,
        product_name=f"Payment to {link.practice.name}",
        success_url=f"{return_url}/paid?session_id={{CHECKOUT_SESSION_ID}}",
        cancel_url=f"{return_url}?cancelled=1", customer_email=payer_email,
        stripe_account_id=payment.stripe_account_id, idempotency_key=f"quickpay-checkout-{payment.pk}",
        expires_at=expires_at, practice_slug=link.practice.slug)
    try:
        session = engine.checkout_create(request)
    except GatewayUnavailable as exc:
        Payment.objects.filter(pk=payment.pk, status=PaymentStatus.PENDING).update(
            status=PaymentStatus.FAILED, failure_reason=str(exc)[:300], failed_at=timezone.now())
        raise
    Payment.objects.filter(pk=payment.pk).update(checkout_session_id=session.id, checkout_url=session.url)
    payment.checkout_session_id, payment.checkout_url = session.id, session.url
    return payment
