"""Stripe's webhook: verify the signature first, record the event id once, dispatch by type.

`POST /webhooks/stripe` answers 400 to a missing or bad `Stripe-Signature` (checked by stripe's
own verification with a 5-minute tolerance), 200 to an event already handled (nothing changes)
and to types we do not act on, and 503 when handling failed, so Stripe delivers it again; the
event id is recorded in the same transaction as its effects, so a failed attempt leaves nothing.
"""

import json
import logging

import stripe
from django.conf import settings
from django.db import connection, transaction
from django.http import HttpResponse, HttpResponseBadRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from . import settlement
from .models import GatewayEvent

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024  # Stripe's events are a few kilobytes


def _text(value) -> str:
    if isinstance(value, dict):  # an expanded object: its id
        value = value.get("id")
    return value if isinstance(value, str) else ""


def _int(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _session_completed(obj: dict, account: str) -> None:
    settlement.checkout_completed(
        session_id=_text(obj.get("id")), paid=obj.get("payment_status") == "paid",
        amount_cents=_int(obj.get("amount_total")), payment_intent_id=_text(obj.get("payment_intent")),
        payer_email=_text((obj.get("customer_details") or {}).get("email")), account=account)


def _session_async_succeeded(obj: dict, account: str) -> None:
    settlement.checkout_completed(
        session_id=_text(obj.get("id")), paid=True, amount_cents=_int(obj.get("amount_total")),
        payment_intent_id=_text(obj.get("payment_intent")),
        payer_email=_text((obj.get("customer_details") or {}).get("email")), account=account)


def _session_async_failed(obj: dict, account: str) -> None:
    settlement.checkout_failed(session_id=_text(obj.get("id")), reason="The payment did not go through.",
                               account=account)


def _session_expired(obj: dict, account: str) -> None:
    settlement.checkout_expired(session_id=_text(obj.get("id")), account=account)


def _charge_refunded(obj: dict, account: str) -> None:
    settlement.charge_refunded(payment_intent_id=_text(obj.get("payment_intent")),
                               amount_refunded_cents=_int(obj.get("amount_refunded")) or 0, account=account)


HANDLERS = {
    "checkout.session.completed": _session_completed,
    "checkout.session.async_payment_succeeded": _session_async_succeeded,
    "checkout.session.async_payment_failed": _session_async_failed,
    "checkout.session.expired": _session_expired,
    "charge.refunded": _charge_refunded,
}


def _event_claim(*, event_id: str, type_: str, account: str) -> bool:
    """Record the event id; False when it was recorded before. One statement: a concurrent
    delivery of the same event waits on the unique index and then finds it taken."""
    table = GatewayEvent._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} (event_id, type, account, received_at) "  # noqa: S608 - our table
                       "VALUES (%s, %s, %s, %s) ON CONFLICT (event_id) DO NOTHING RETURNING id",
                       [event_id, type_, account, timezone.now()])
        return cursor.fetchone() is not None


@transaction.atomic
def stripe_event_handle(*, event: dict) -> bool:
    """Act on one verified event. False when its id was handled before (nothing changes)."""
    account = _text(event.get("account"))
    if not _event_claim(event_id=event["id"], type_=event["type"][:100], account=account[:255]):
        return False
    handler = HANDLERS.get(event["type"])
    if handler is not None:
        handler(event["data"]["object"], account)
    return True


def _event_from(payload: bytes) -> dict | None:
    try:
        event = json.loads(payload)
    except ValueError:
        return None
    if not (isinstance(event, dict) and isinstance(event.get("id"), str) and 0 < len(event["id"]) <= 255
            and isinstance(event.get("type"), str) and isinstance(event.get("data"), dict)
            and isinstance(event["data"].get("object"), dict)):
        return None
    return event


@csrf_exempt
@require_POST
def stripe_webhook(request):
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_BODY_BYTES:
        return HttpResponseBadRequest("body too large")
    payload = request.body
    if len(payload) > MAX_BODY_BYTES:
        return HttpResponseBadRequest("body too large")
    signature = request.headers.get("Stripe-Signature", "")
    secret = settings.STRIPE_WEBHOOK_SECRET
    try:
        text = payload.decode("utf-8")
        if not secret or not signature:
            raise stripe.SignatureVerificationError("no signature or no secret", signature)
        stripe.WebhookSignature.verify_header(text, signature, secret, settings.STRIPE_WEBHOOK_TOLERANCE)
    except (stripe.SignatureVerificationError, UnicodeDecodeError):
        return HttpResponseBadRequest("bad signature")
    event = _event_from(payload)
    if event is None:
        return HttpResponseBadRequest("not a Stripe event")
    try:
        handled = stripe_event_handle(event=event)
    except Exception:
        # Nothing was recorded: Stripe sends it again later. Ids only in the log.
        logger.exception("Stripe event %s (%s) could not be handled", event["id"], event["type"])
        return HttpResponse("try again later", status=503)
    return JsonResponse({"received": True, "duplicate": not handled})
