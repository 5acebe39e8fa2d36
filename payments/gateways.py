"""Payment gateways: where the payer enters a card. Card data never reaches this app.

- Stripe (PAYMENTS_GATEWAY=stripe): a hosted Checkout Session on the practice's Connect
  account, created with the platform's secret key, `Stripe-Account` and an idempotency key.
- Sandbox (the embedded default and tests): a checkout page served by this app that takes
  Stripe's test card numbers only and completes through the same service as Stripe's webhook.

Either way the outcome arrives later (webhook or sandbox form) at payments.settlement.
"""

import functools
import secrets
from dataclasses import dataclass
from datetime import datetime

import stripe
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from . import settlement
from .models import Gateway, SandboxCheckout

STRIPE_TIMEOUT_SECONDS = 20


@dataclass(frozen=True)
class CheckoutRequest:
    payment_id: int
    amount_cents: int
    currency: str
    product_name: str  # what the payer's card statement and the checkout page say
    success_url: str  # may contain {CHECKOUT_SESSION_ID}, as Stripe substitutes it
    cancel_url: str
    customer_email: str
    stripe_account_id: str
    idempotency_key: str
    expires_at: datetime
    practice_slug: str


@dataclass(frozen=True)
class CheckoutSession:
    id: str
    url: str


class GatewayUnavailable(Exception):
    """The gateway did not start a checkout (network, refusal, its own error); nothing was charged."""


@functools.cache
def _stripe_client(api_key: str, api_base: str) -> stripe.StripeClient:
    return stripe.StripeClient(
        api_key, base_addresses={"api": api_base} if api_base else None, max_network_retries=2,
        http_client=stripe.RequestsClient(timeout=STRIPE_TIMEOUT_SECONDS))


def stripe_client() -> stripe.StripeClient:
    """The platform's client (one per process): STRIPE_API_BASE points tests at a loopback fake."""
    return _stripe_client(settings.STRIPE_SECRET_KEY, settings.STRIPE_API_BASE)


class StripeGateway:
    name = Gateway.STRIPE

    def checkout_create(self, request: CheckoutRequest) -> CheckoutSession:
        # Metadata carries our ids only: nothing about the patient goes to the provider.
        metadata = {"payment_id": str(request.payment_id), "practice": request.practice_slug}
        params = {
            "mode": "payment",
            # Card includes Apple Pay and Google Pay on Checkout.
            "payment_method_types": ["card"],
            "line_items": [{"quantity": 1, "price_data": {
                "currency": request.currency, "unit_amount": request.amount_cents,
                "product_data": {"name": request.product_name}}}],
            "client_reference_id": str(request.payment_id),
            "metadata": metadata,
            "payment_intent_data": {"metadata": metadata},
            "success_url": request.success_url,
            "cancel_url": request.cancel_url,
            "expires_at": int(request.expires_at.timestamp()),
        }
        if request.customer_email:
            params["customer_email"] = request.customer_email
        try:
            session = stripe_client().v1.checkout.sessions.create(params=params, options={
                "idempotency_key": request.idempotency_key, "stripe_account": request.stripe_account_id})
        except stripe.StripeError as exc:
            raise GatewayUnavailable(f"Stripe: {type(exc).__name__} {exc.http_status or ''}".strip()) from exc
        if not session.url:
            raise GatewayUnavailable("Stripe returned a session without a checkout address")
        return CheckoutSession(id=session.id, url=session.url)


class SandboxGateway:
    name = Gateway.SANDBOX

    def checkout_create(self, request: CheckoutRequest) -> CheckoutSession:
        # One sandbox session per payment, as Stripe answers a repeated idempotency key.
        checkout, _ = SandboxCheckout.objects.get_or_create(payment_id=request.payment_id, defaults={
            "session_id": "cs_sandbox_" + secrets.token_urlsafe(24), "success_url": request.success_url,
            "cancel_url": request.cancel_url, "expires_at": request.expires_at})
        return CheckoutSession(id=checkout.session_id,
                               url=reverse("sandbox_checkout", args=[checkout.session_id]))


def gateway():
    return StripeGateway() if settings.PAYMENTS_GATEWAY == Gateway.STRIPE else SandboxGateway()


# --- the sandbox checkout page's behaviour ---

# Stripe's published test cards: what each one does on Checkout.
SANDBOX_CARDS = {
    "4242424242424242": "",
    "5555555555554444": "",
    "4000000000000002": "Your card was declined.",
    "4000000000009995": "Your card has insufficient funds.",
}


def sandbox_card_refusal(card_number: str) -> str:
    """"" when the card pays; otherwise what the checkout page says."""
    if card_number not in SANDBOX_CARDS:
        return "This test checkout takes Stripe's test cards only, such as 4242 4242 4242 4242."
    return SANDBOX_CARDS[card_number]


def sandbox_checkout_get(*, session_id: str) -> SandboxCheckout | None:
    if settings.PAYMENTS_GATEWAY != Gateway.SANDBOX or len(session_id) > 100:
        return None  # the sandbox's pages exist only while it is the gateway
    return (SandboxCheckout.objects.select_related("payment", "payment__practice")
            .filter(session_id=session_id).first())


def sandbox_checkout_pay(*, checkout: SandboxCheckout, card_number: str, email: str) -> str:
    """Pay a sandbox session with a test card: "" when paid (through the same service as Stripe's
    webhook), otherwise the refusal to show. A declined card leaves the session open, as on Stripe."""
    refusal = sandbox_card_refusal(card_number)
    if refusal:
        return refusal
    settlement.checkout_completed(
        session_id=checkout.session_id, paid=True, amount_cents=int(checkout.payment.amount * 100),
        payment_intent_id="pi_sandbox_" + secrets.token_hex(12), payer_email=email)
    SandboxCheckout.objects.filter(pk=checkout.pk, completed_at__isnull=True).update(
        completed_at=timezone.now())
    return ""


def sandbox_checkout_expire(*, checkout: SandboxCheckout) -> None:
    settlement.checkout_expired(session_id=checkout.session_id)
