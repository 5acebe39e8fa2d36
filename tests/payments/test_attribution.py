"""Exact attribution: a payment belongs to the message whose link was paid; the link records its
first opening and its first payment; the time to pay counts from the first message of the paid
message's series (a statement's cadence), sent by the real delivery engine."""

import re
from datetime import UTC, datetime, timedelta

import time_machine

from notifications.dispatch import drain_inline
from notifications.models import Notification
from payments.models import Payment, QuickPayLink, QuickPayOpen
from statements.models import Statement

from ..statements.conftest import item, make_guarantor, receive
from .outreach import fail, link, open_page, pay, refund

OCT_1 = datetime(2026, 10, 1, 17, 0, tzinfo=UTC)


def test_paying_a_statements_text_counts_from_the_statements_first_email(world):
    from statements.profiles import standard_profile_create

    office = world.practice_a
    office.addon_balance_notifications = office.addon_online_payments = True
    office.save()
    standard_profile_create(office)
    guarantor = make_guarantor(office, balance="250.00")
    with time_machine.travel(OCT_1, tick=False):
        receive(office, "b1", [item(guarantor, statement_date="2026-10-05", due_date="2026-10-30")])
    statement = Statement.objects.get(guarantor=guarantor)
    email, text = (Notification.objects.get(idempotency_key=key) for key in sorted(
        statement.keys, key=lambda k: Notification.objects.get(idempotency_key=k).send_at))
    assert (email.channel, text.channel) == ("email", "sms")
    # The text carries the QuickPay link the batch minted for it (with the add-on on).
    token = re.search(r"/p/([A-Za-z0-9_-]+)", text.body).group(1)
    assert QuickPayLink.objects.get(notification_key=text.idempotency_key).dunning_level == 1
    for moment in (email.send_at, text.send_at):  # the engine sends each on its day
        with time_machine.travel(moment + timedelta(minutes=1), tick=False):
            drain_inline()
    email.refresh_from_db()
    text.refresh_from_db()
    assert email.sent_at and text.sent_at and text.sent_at - email.sent_at == timedelta(days=10)
    paid_at = text.sent_at + timedelta(days=2)
    payment = pay(token, "100.00", paid_at)
    assert payment.status == "succeeded" and payment.link.notification_key == text.idempotency_key
    assert payment.first_message_at == email.sent_at  # the statement's first message, not the text
    assert payment.succeeded_at - payment.first_message_at == timedelta(days=12)
    assert QuickPayLink.objects.get(pk=payment.link_id).paid_at == paid_at


def test_a_link_keeps_its_first_opening_and_its_first_payment(world):
    from .conftest import make_guarantor as payments_guarantor

    office = world.practice_a
    office.addon_online_payments = True
    office.save()
    guarantor = payments_guarantor(office, total="500.00", due="500.00", over_120="0.00")
    at = datetime(2026, 11, 2, 16, 0, tzinfo=UTC)
    token = link(office, guarantor, "on-demand:7", source="on_demand", channel="email", at=at)
    stored = QuickPayLink.objects.get(notification_key="on-demand:7")
    assert (stored.first_opened_at, stored.paid_at) == (None, None)
    open_page(token, at + timedelta(hours=1))
    open_page(token, at + timedelta(hours=2))
    stored.refresh_from_db()
    assert stored.first_opened_at == at + timedelta(hours=1)
    assert QuickPayOpen.objects.filter(link=stored).count() == 2
    fail(token, "50.00", at + timedelta(hours=3))
    stored.refresh_from_db()
    assert stored.paid_at is None  # a failed checkout is no payment
    first = pay(token, "50.00", at + timedelta(days=1))
    pay(token, "60.00", at + timedelta(days=2))
    refund(first, "50.00", at + timedelta(days=3))
    stored.refresh_from_db()
    assert stored.paid_at == at + timedelta(days=1)  # the first success, refund or not
    assert stored.first_opened_at == at + timedelta(hours=1)
    # No message carries "on-demand:7" here: there is nothing to count the time to pay from.
    assert set(Payment.objects.filter(link=stored).values_list("first_message_at", flat=True)) == {None}
