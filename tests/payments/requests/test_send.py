"""Sending the list: campaigns, their requests and reminders in the outbox with QuickPay links,
spread under the hourly cap and inside texting hours, stopped when the guarantor pays."""

import os
import re
import subprocess
import sys
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from notifications.dispatch import drain_inline
from notifications.message_templates import message_template_save
from notifications.models import MessagingSettings, Notification, SandboxMessage
from patients.models import Balance
from patients.services import patients_bulk_upsert
from payments.bulk_requests.texts import request_templates_ensure
from payments.models import CampaignState, Payment, PaymentRequestCampaign, QuickPayLink, RequestHour
from practices.due_work import due_work_run

from .conftest import make_guarantor, settings_form

LINK = re.compile(r"http://[^ ]+/p/([A-Za-z0-9_-]{22})")


def _messages(campaign):
    keys = [campaign.message_key(step) for step in range(3)]
    return sorted(Notification.objects.filter(idempotency_key__in=keys), key=lambda n: n.idempotency_key)


def test_a_send_starts_a_campaign_each_with_request_and_reminders_carrying_quickpay_links(desk):
    desk.settings(request_reminders=2, request_reminder_days=3)
    texted = make_guarantor(desk.practice, "G-1", first="Ana", mobile="+13125550142")
    emailed = make_guarantor(desk.practice, "G-2", first="Bo", mobile="", email="bo@example.test",
                             consent_email=True, consent_sms=False)
    nowhere = make_guarantor(desk.practice, "G-3", first="Cy", mobile="", email="")
    plan = desk.send()
    assert (plan.campaigns, plan.by_channel, plan.messages) == (3, {"sms": 1, "email": 1, "": 1}, 6)
    campaign = PaymentRequestCampaign.objects.get(guarantor=texted)
    request, first, second = _messages(campaign)
    assert (request.channel, request.address, request.kind, request.addon) == (
        "sms", "+13125550142", "payment_request", "online_payments")
    assert "Hi Ana" in request.body and "Lakeside Dental" in request.body and "reminder" in first.body
    start = campaign.request_at  # the request goes now (the outbox makes a past moment "now")
    assert abs(request.send_at - start) < timedelta(seconds=5)
    assert (first.send_at - start, second.send_at - start) == (timedelta(days=3), timedelta(days=6))
    assert campaign.ends_at == second.send_at + timedelta(days=3)
    tokens = [LINK.search(n.body).group(1) for n in (request, first, second)]
    assert len(set(tokens)) == 3  # each message its own link, attributed to it
    links = QuickPayLink.objects.filter(guarantor=texted).order_by("notification_key")
    assert [(link.source, link.channel, link.notification_key) for link in links] == [
        ("payment_request", "sms", campaign.message_key(step)) for step in range(3)]
    mail = _messages(PaymentRequestCampaign.objects.get(guarantor=emailed))
    assert [n.channel for n in mail] == ["email"] * 3 and "your balance" in mail[0].subject
    lost = PaymentRequestCampaign.objects.get(guarantor=nowhere)
    assert (lost.state, lost.undeliverable_reason, _messages(lost)) == ("undeliverable", "no_contact", [])
    # A second send finds no one pending: they are in campaigns now.
    assert desk.send().campaigns == 0


def test_the_texts_are_the_offices_payment_request_templates_at_their_current_version(desk, client_of, world):
    guarantor = make_guarantor(desk.practice, "G-1", first="Ana")
    chosen = request_templates_ensure(desk.practice)
    message_template_save(practice=desk.practice, actor=world.admin_ab, template=chosen.request_sms_template,
                          subject="", body="{{ practice.name }}: {{ patient.first_name }}, pay here "
                                            "{{ quickpay_link }} (STOP to opt out)")
    spanish = message_template_save(
        practice=desk.practice, actor=world.admin_ab, purpose="payment_request", channel="sms",
        name="Recordatorio", subject="", body="{{ practice.name }}: Hola {{ patient.first_name }}, "
                                              "recuerde su saldo: {{ quickpay_link }}")
    client = client_of(world.admin_ab, office="lakeside")
    assert client.post(reverse("payment_settings"), settings_form(
        desk.practice, reminder_sms_template=spanish.pk)).status_code == 302
    desk.send()
    campaign = PaymentRequestCampaign.objects.get(guarantor=guarantor)
    request, first, _ = _messages(campaign)
    assert request.body.startswith("Lakeside Dental: Ana, pay here http")
    assert request.body.endswith("(STOP to opt out)")
    assert (request.template_name, request.template_version) == ("Payment request text", "2")
    assert first.body.startswith("Lakeside Dental: Hola Ana, recuerde su saldo: http")
    assert (first.template_name, first.template_version) == ("Recordatorio", "1")


def test_an_email_request_carries_its_own_unsubscribe_link(desk):
    make_guarantor(desk.practice, "G-1", mobile="", email="bo@example.test", consent_email=True)
    desk.send()
    request = Notification.objects.filter(channel="email").order_by("idempotency_key").first()
    assert "/unsubscribe/" in request.body and request.template_name == "Payment request email"


def test_the_request_is_delivered_and_its_link_opens_the_quickpay_page(desk, client):
    make_guarantor(desk.practice, "G-1", first="Ana")
    desk.send()
    drain_inline()
    [text] = SandboxMessage.objects.filter(channel="sms")
    assert text.to == "+13125550142" and "Hi Ana" in text.body
    token = LINK.search(text.body).group(1)
    page = client.get(f"/p/{token}")
    assert page.status_code == 200 and b"$100.00" in page.content


def test_sends_are_spread_under_the_hourly_cap_counting_earlier_sends_and_reminders(desk):
    desk.settings(request_hourly_cap=2, request_reminders=1, request_reminder_days=3)
    for n in range(5):
        make_guarantor(desk.practice, f"G-{n}", total=f"{500 - n}.00")
    desk.send()
    requests = sorted(PaymentRequestCampaign.objects.values_list("request_at", flat=True))
    start = datetime(2026, 6, 10, 15, 0, tzinfo=UTC)
    assert requests[0] - start < timedelta(seconds=5)  # the first goes now
    per_hour = Counter(at.replace(minute=0, second=0, microsecond=0) for at in requests)
    assert sorted(per_hour.values()) == [1, 2, 2] and max(per_hour.values()) <= 2
    assert requests[1] - requests[0] == timedelta(minutes=30)  # spread across the hour
    reminders = Counter(n.send_at.replace(minute=0, second=0, microsecond=0)
                        for n in Notification.objects.filter(idempotency_key__endswith=":1"))
    assert max(reminders.values()) <= 2
    # A later send fills the hours after the booked ones; the hours count every message.
    make_guarantor(desk.practice, "G-late", total="900.00")
    desk.send()
    late = PaymentRequestCampaign.objects.get(guarantor__external_id="G-late")
    assert late.request_at.replace(minute=0, second=0, microsecond=0) == start + timedelta(hours=2)
    assert all(h.used <= 2 for h in RequestHour.objects.filter(practice=desk.practice))


def test_the_spread_keeps_to_texting_hours_and_the_practices_narrower_window(desk, daytime):
    desk.settings(request_hourly_cap=2, request_reminders=0)
    for n in range(3):
        make_guarantor(desk.practice, f"G-{n}")
    # 20:00 in Chicago: two fit before 21:00, the third waits for 09:00 (the practice's window).
    MessagingSettings.objects.create(practice=desk.practice, quiet_hours_start="09:00",
                                     quiet_hours_end="21:00")
    daytime.move_to(datetime(2026, 6, 11, 1, 0, tzinfo=UTC))
    desk.send()
    local = sorted(n.send_at.astimezone(desk.practice.tz) for n in Notification.objects.all())
    assert [(t.day, t.hour, t.minute) for t in local] == [(10, 20, 0), (10, 20, 30), (11, 9, 0)]


def test_before_texting_hours_the_first_request_waits_for_the_window(desk, daytime):
    make_guarantor(desk.practice, "G-1")
    daytime.move_to(datetime(2026, 6, 10, 11, 0, tzinfo=UTC))  # 06:00 in Chicago
    desk.send()
    [request] = Notification.objects.filter(idempotency_key__endswith=":0")
    assert request.send_at.astimezone(desk.practice.tz).hour == 8


def test_a_send_is_set_based_its_queries_do_not_grow_with_the_guarantors(desk):
    for n in range(10):
        make_guarantor(desk.practice, f"A-{n}")
    desk.make_list()
    with CaptureQueriesContext(connection) as few:
        desk.send()
    for n in range(150):
        make_guarantor(desk.practice, f"B-{n}", mobile=f"+1312555{n:04d}", last_visit=date(2026, 6, 1))
    with time_machine.travel(datetime(2026, 6, 11, 15, 0, tzinfo=UTC), tick=True):
        desk.make_list()
        with CaptureQueriesContext(connection) as many:
            plan = desk.send()
    assert plan.campaigns == 150 and Notification.objects.count() == 160 * 3
    statements = [q["sql"][:80] for q in many.captured_queries]
    assert len(many.captured_queries) <= len(few.captured_queries) + 2, statements


def test_a_campaign_finishes_the_reminder_spacing_after_its_last_reminder(desk, daytime):
    desk.settings(request_reminders=1, request_reminder_days=3)
    guarantor = make_guarantor(desk.practice, "G-1")
    desk.send()
    campaign = PaymentRequestCampaign.objects.get(guarantor=guarantor)
    assert campaign.ends_at - campaign.request_at == timedelta(days=6)
    daytime.move_to(campaign.ends_at - timedelta(minutes=1))
    due_work_run()
    campaign.refresh_from_db()
    assert campaign.state == CampaignState.ACTIVE
    daytime.move_to(campaign.ends_at + timedelta(minutes=1))
    due_work_run()
    campaign.refresh_from_db()
    assert campaign.state == CampaignState.FINISHED
    # Finished, and no visit since: still off the list until someone on the account visits.
    assert desk.send().campaigns == 0


def _pay(client, token: str, choice="due"):
    page = client.get(f"/p/{token}")
    data = {"attempt": page.context["form"]["attempt"].value(), "choice": choice, "other_amount": "",
            "payer_email": ""}
    checkout = client.post(f"/p/{token}", data)["Location"]
    done = client.post(checkout, {"email": "", "card_number": "4242 4242 4242 4242", "expiry": "12/39",
                                  "cvc": "123"})
    assert done.status_code == 302


def test_a_quickpay_payment_ends_the_campaign_paid_and_stops_its_reminders(desk, client):
    guarantor = make_guarantor(desk.practice, "G-1")
    other = make_guarantor(desk.practice, "G-2", mobile="+13125550143")
    desk.send()
    drain_inline()
    text = SandboxMessage.objects.get(to="+13125550142")
    _pay(client, LINK.search(text.body).group(1))
    campaign = PaymentRequestCampaign.objects.get(guarantor=guarantor)
    assert campaign.state == CampaignState.PAID
    request, *reminders = _messages(campaign)
    assert request.status == "sent"
    assert [(n.status, n.reason_code) for n in reminders] == [("will_not_send", "balance_paid")] * 2
    assert Payment.objects.get().link.source == "payment_request"
    untouched = PaymentRequestCampaign.objects.get(guarantor=other)
    assert untouched.state == CampaignState.ACTIVE
    assert {n.status for n in _messages(untouched)[1:]} == {"queued"}


def _record(external_id: str, total: str, mobile="(312) 555-0142", claims=0) -> dict:
    return {"external_id": external_id, "first_name": "Ana", "last_name": "Reyes", "mobile_phone": mobile,
            "consents": {"email": False, "sms": True, "voice": False, "paperless": False},
            "last_visit_on": "2026-05-01",
            "balance": {"total": total, "amount_due": total, "aging": {"current": total},
                        "in_collections": False, "on_payment_plan": False, "outstanding_claims": claims,
                        "as_of": "2026-06-10T08:00:00Z"}}


@pytest.mark.parametrize(("total", "ends"), [("24.99", True), ("25.00", False), ("60.00", False)])
def test_a_pms_balance_below_the_minimum_ends_the_campaign_paid(desk, total, ends):
    result = patients_bulk_upsert(practice=desk.practice, items=[_record("G-1", "100.00")])
    assert result.counts.created == 1
    desk.send()
    campaign = PaymentRequestCampaign.objects.get()
    patients_bulk_upsert(practice=desk.practice, items=[_record("G-1", total)])
    campaign.refresh_from_db()
    assert Balance.objects.get().total == Decimal(total)
    assert (campaign.state == CampaignState.PAID) is ends
    statuses = {(n.status, n.reason_code) for n in _messages(campaign)}
    assert statuses == ({("will_not_send", "balance_paid")} if ends else {("queued", "")})


def test_the_embedded_default_on_sqlite_sends_resends_and_stops_the_same_way(tmp_path):
    """The set-based writes have a generic path for SQLite (bulk_create, multi-row inserts): a
    send, a payment that stops it, the list's screens and a resend, run again in the embedded
    default's settings."""
    if connection.vendor == "sqlite":
        pytest.skip("this is the run on SQLite")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.embedded", "VAR_DIR": str(tmp_path)}
    here = Path(__file__).resolve()
    chosen = ["test_a_send_starts_a_campaign_each_with_request_and_reminders_carrying_quickpay_links",
              "test_a_quickpay_payment_ends_the_campaign_paid_and_stops_its_reminders",
              "test_sends_are_spread_under_the_hourly_cap_counting_earlier_sends_and_reminders"]
    others = [here.parent / "test_screens.py::test_select_all_across_pages_deselect_two_and_send_the_rest",
              here.parent / ("test_undeliverable.py::"
                             "test_the_undeliverable_screen_says_why_and_the_fix_resends_at_once")]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "ignore",
         *(f"{here}::{name}" for name in chosen), *map(str, others)],
        cwd=here.parents[3], env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "5 passed" in result.stdout


def test_a_message_whose_campaign_ended_meanwhile_is_not_sent(desk):
    """The outbox asks just before each send: a campaign ended behind the queue's back (its row
    already claimed, say) does not text the guarantor."""
    desk.settings(request_reminders=0, request_hourly_cap=10_000)
    paid = make_guarantor(desk.practice, "G-1")
    resent = make_guarantor(desk.practice, "G-2", mobile="+13125550143")
    desk.send()
    PaymentRequestCampaign.objects.filter(guarantor=paid).update(state=CampaignState.PAID)
    PaymentRequestCampaign.objects.filter(guarantor=resent).update(attempt=2)
    last = PaymentRequestCampaign.objects.order_by("-request_at").first().request_at
    with time_machine.travel(last + timedelta(seconds=1)):
        drain_inline()
    outcome = {n.recipient_id: (n.status, n.reason_code) for n in Notification.objects.all()}
    assert outcome == {paid.pk: ("will_not_send", "balance_paid"), resent.pk: ("will_not_send", "superseded")}
    assert not SandboxMessage.objects.exists()


def test_a_paid_follow_up_is_attributed_to_the_campaign_and_timed_from_its_request(desk, client_of, world):
    """The request goes out Jun 10, its reminder 3 days later; the reminder's link is paid a day
    after that: a follow-up's payment, 4 days from the request (not 1 from the reminder)."""
    from tests.payments.outreach import pay

    desk.settings(request_reminders=1, request_reminder_days=3)
    make_guarantor(desk.practice, "G-1")
    desk.send()
    drain_inline()
    campaign = PaymentRequestCampaign.objects.get()
    request, reminder = _messages(campaign)
    with time_machine.travel(reminder.send_at + timedelta(minutes=1), tick=False):
        drain_inline()
    request.refresh_from_db()
    reminder.refresh_from_db()
    assert (request.status, reminder.status) == ("sent", "sent")
    token = LINK.search(reminder.body).group(1)
    payment = pay(token, "40.00", reminder.sent_at + timedelta(days=1))
    assert (payment.source, payment.channel, payment.follow_up) == ("payment_request", "sms", True)
    assert payment.first_message_at == request.sent_at
    assert timedelta(days=3) <= reminder.sent_at - request.sent_at < timedelta(days=3, hours=1)
    with time_machine.travel(datetime(2026, 6, 20, 15, tzinfo=UTC), tick=False):
        response = client_of(world.staff_a).get(reverse("payment_analytics"),
                                                {"date_from": "2026-06-01", "date_to": "2026-06-20"})
    tables = {t.key: t for t in response.context["tables"]}
    assert [[str(v) for v in row] for row in tables["sources"].rows] == [
        ["Payment request follow-ups", "1", "40.00", "0.00", "40.00"]]
    # The request and its reminder sent (the sandbox reports no delivery); one link opened and paid.
    assert [list(row[:6]) for row in tables["funnel"].rows] == [["Payment request", "Text", 2, 0, 1, 1]]
    assert [(label, n) for label, n, _ in tables["time_to_pay"].rows if n] == [("3 to 6 days", 1)]
