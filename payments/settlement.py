"""What the gateway says became of a payment: one service per outcome, each one transaction.

Stripe's webhook handlers and the sandbox checkout call these same functions. A payment that
succeeds, in one transaction:

1. is locked and moves to succeeded (once: a second report of the same success changes nothing);
2. lowers the guarantor's balance as we know it (the PMS stays the source of truth and
   overwrites it at its next import), the oldest aging first, and remembers what it took;
3. calls the BALANCE_CHANGED_HOOKS (the statements app stops the dunning of a paid balance), and
   ends the guarantor's payment request campaign `paid` (its reminders will not send);
4. queues a receipt email to the payer through the outbox;
5. marks its link paid, keeps when the first message of its series went out (attribution.py)
   and counts itself in the analytics' day counts (rollups.py): rows shared by the office's
   payments of the day, so written at the end;
6. is written with the practice's next change number, last, in one statement, so the row lock
   that orders the numbers is held only for that statement and the commit (see
   Payment.change_seq and the payments API).

A refund puts back what the payment took, in proportion to what was refunded, and calls the
hooks with source "refund". Locks are always taken in the order payment, balance, link, day
counts, settings.
"""

import logging
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import dateformat, timezone

from config.plain_text import render_plain_text
from notifications.services import Outgoing, notifications_schedule_many
from patients.models import ZERO
from patients.services import balances_changed_notify

from .attribution import payment_attribute
from .bulk_requests.campaigns import payment_request_campaigns_paid
from .models import PAID_STATUSES, Gateway, Payment, PaymentStatus
from .rollups import payment_day_add
from .settlement_rows import balance_locked, balance_write, payment_locked, payment_write_numbered

logger = logging.getLogger(__name__)

RECEIPT_KIND = "payment_receipt"
RECEIPT_TEMPLATE = "payment-receipt"
RECEIPT_VERSION = "1"
CENTS = Decimal("0.01")
# Oldest first: a payment goes to the oldest part of the balance.
AGING_OLDEST_FIRST = ["aging_over_120", "aging_91_120", "aging_61_90", "aging_31_60", "aging_current"]


def _locked(**lookup) -> Payment | None:
    # The payment's row alone: FOR UPDATE over the join would lock the practice's row too, and
    # every payment of the office would wait for the one before it to commit.
    (column, value), = lookup.items()
    return payment_locked(column=column, value=value)


def _cents(value) -> Decimal:
    return (Decimal(int(value)) / 100).quantize(CENTS)


def _balance_take(payment: Payment, amount: Decimal) -> dict:
    locked = balance_locked(payment.guarantor_id)
    if locked is None:
        return {}
    balance_id, balance = locked
    effect = {"total": amount, "amount_due": min(amount, max(balance["amount_due"], ZERO))}
    balance["total"] -= amount
    balance["amount_due"] -= effect["amount_due"]
    left = amount
    for field in AGING_OLDEST_FIRST:
        take = min(left, max(balance[field], ZERO))
        if take:
            balance[field] -= take
            effect[field] = take
            left -= take
    balance_write(balance_id, balance)
    return {name: str(value) for name, value in effect.items()}


def _balance_give_back(payment: Payment, share: Decimal) -> None:
    """Put back `share` (0..1] of what the payment took."""
    if not payment.balance_effect:
        return
    locked = balance_locked(payment.guarantor_id)
    if locked is None:
        return
    balance_id, balance = locked
    for name in payment.balance_effect:
        if name in balance:
            balance[name] += (Decimal(payment.balance_effect[name]) * share).quantize(CENTS)
    balance_write(balance_id, balance)


def _receipt_queue(payment: Payment) -> None:
    try:
        validate_email(payment.payer_email)
    except ValidationError:
        return  # no address to send a receipt to (the payer gave none, or not a usable one)
    practice, guarantor = payment.practice, payment.guarantor
    # Formatted here: a template would show the time in the request's zone, not the office's.
    paid_at = dateformat.format(timezone.localtime(payment.succeeded_at, practice.tz), "F j, Y g:i A T")
    context = {"practice": practice, "first_name": guarantor.first_name, "amount": payment.amount,
               "paid_at": paid_at, "reference": f"QP-{payment.pk:06d}"}
    # The set-based call with one row: no lookup of the key first (a payment succeeds once).
    notifications_schedule_many(practice=practice, messages=[Outgoing(
        recipient_kind="patient", recipient_id=guarantor.pk, recipient_name=guarantor.full_name,
        channel="email", address=payment.payer_email, kind=RECEIPT_KIND,
        subject=render_plain_text(f"emails/{RECEIPT_TEMPLATE}-subject.txt", context).strip(),
        body=render_plain_text(f"emails/{RECEIPT_TEMPLATE}-body.txt", context),
        html_body=render_to_string(f"emails/{RECEIPT_TEMPLATE}-body.html", context),
        idempotency_key=f"payment:{payment.pk}:receipt", reason=f"payment {payment.pk}",
        template_name=RECEIPT_TEMPLATE, template_version=RECEIPT_VERSION)])


def _succeed(payment: Payment, *, amount: Decimal, payment_intent_id: str = "", charge_id: str = "",
             payer_email: str = "") -> bool:
    if payment.status in PAID_STATUSES:
        return False  # already recorded (completed and async-succeeded both report a success)
    now = timezone.now()
    payment.status, payment.succeeded_at, payment.failure_reason = PaymentStatus.SUCCEEDED, now, ""
    payment.amount = amount  # what the gateway took is what counts
    payment.payment_intent_id = payment_intent_id or payment.payment_intent_id
    payment.charge_id = charge_id or payment.charge_id
    if not payment.payer_email and payer_email:
        payment.payer_email = payer_email[:254]
    payment.balance_effect = _balance_take(payment, amount)
    balances_changed_notify(practice_id=payment.practice_id, guarantor_ids=[payment.guarantor_id],
                            source="payment")
    payment_request_campaigns_paid(practice_id=payment.practice_id, guarantor_ids=[payment.guarantor_id],
                                   detail=f"payment {payment.pk} received")
    _receipt_queue(payment)
    # The day counts are rows every payment of the office that day shares: written last with the
    # change number, so each is held only until the commit that follows.
    payment_attribute(payment)
    payment_day_add(payment=payment, time_zone=payment.practice.time_zone, payments=1, received=amount)
    payment_write_numbered(payment, ["status", "succeeded_at", "failure_reason", "amount",
                                     "payment_intent_id", "charge_id", "payer_email", "balance_effect",
                                     "first_message_at"])
    return True


@transaction.atomic(savepoint=False)
def checkout_completed(*, session_id: str, paid: bool, amount_cents: int | None, payment_intent_id: str = "",
                       charge_id: str = "", payer_email: str = "", account: str = "") -> Payment | None:
    """The payer finished checkout. `paid` False: a delayed method (bank debit) whose outcome
    comes later as async succeeded or failed; the payment stays pending until then."""
    payment = _locked(checkout_session_id=session_id)
    if payment is None or not _same_account(payment, account):
        return None
    if paid:
        amount = _cents(amount_cents) if amount_cents else payment.amount
        _succeed(payment, amount=amount, payment_intent_id=payment_intent_id,
                 charge_id=charge_id, payer_email=payer_email)
    elif payment_intent_id and not payment.payment_intent_id:
        Payment.objects.filter(pk=payment.pk).update(payment_intent_id=payment_intent_id)
    return payment


@transaction.atomic(savepoint=False)
def checkout_failed(*, session_id: str, reason: str, account: str = "") -> Payment | None:
    payment = _locked(checkout_session_id=session_id)
    if payment is None or not _same_account(payment, account) or payment.status != PaymentStatus.PENDING:
        return payment
    payment.status, payment.failed_at = PaymentStatus.FAILED, timezone.now()
    payment.failure_reason = reason[:300]
    payment.save(update_fields=["status", "failed_at", "failure_reason", "updated_at"])
    return payment


@transaction.atomic(savepoint=False)
def checkout_expired(*, session_id: str, account: str = "") -> Payment | None:
    payment = _locked(checkout_session_id=session_id)
    if payment is None or not _same_account(payment, account) or payment.status != PaymentStatus.PENDING:
        return payment
    payment.status = PaymentStatus.EXPIRED
    payment.save(update_fields=["status", "updated_at"])
    return payment


@transaction.atomic(savepoint=False)
def charge_refunded(*, payment_intent_id: str, amount_refunded_cents: int,
                    account: str = "") -> Payment | None:
    """A refund (made in the gateway's dashboard): `amount_refunded_cents` is the charge's total
    refunded so far, so a repeated or late report changes nothing twice."""
    payment = _locked(payment_intent_id=payment_intent_id) if payment_intent_id else None
    if payment is None or not _same_account(payment, account) or payment.status not in PAID_STATUSES:
        return None
    refunded = min(_cents(amount_refunded_cents), payment.amount)
    delta = refunded - payment.amount_refunded
    if delta <= 0:
        return payment
    _balance_give_back(payment, delta / payment.amount)
    payment.amount_refunded = refunded
    payment.status = (PaymentStatus.REFUNDED if refunded >= payment.amount
                      else PaymentStatus.PARTIALLY_REFUNDED)
    payment.refunded_at = timezone.now()
    balances_changed_notify(practice_id=payment.practice_id, guarantor_ids=[payment.guarantor_id],
                            source="refund")
    payment_day_add(payment=payment, time_zone=payment.practice.time_zone, refunded=delta)
    payment_write_numbered(payment, ["amount_refunded", "status", "refunded_at"])
    return payment


def _same_account(payment: Payment, account: str) -> bool:
    """A Connect event names the account it happened on: it must be the payment's."""
    expected = payment.stripe_account_id if payment.gateway == Gateway.STRIPE else ""
    if expected and account != expected:
        logger.warning("gateway event for payment %s came from another account; ignored", payment.pk)
        return False
    return True
