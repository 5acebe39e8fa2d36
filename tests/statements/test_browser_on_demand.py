"""In Chromium: staff send an on-demand text with F2 and find it in the account's history; a
patient on a phone pays from a dunning message's QuickPay link and the dunning stops."""

import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from playwright.sync_api import expect

from notifications.dispatch import drain_inline
from notifications.models import Notification, ReasonCode, Status
from patients.models import Balance, Patient
from payments.models import Payment
from statements.models import BALANCE_KIND, ON_DEMAND_KIND
from statements.on_demand import on_demand_templates_create

from .conftest import item, make_guarantor, receive
from .test_on_demand import _awake_zone

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def office(office):
    office.addon_on_demand = True
    office.addon_online_payments = True
    office.save()
    on_demand_templates_create(office)
    return office


def signed_in(browser, live_server, user, **context_args):
    """A browser context signed in as `user` (the session of a test client's force_login)."""
    client = Client()
    client.force_login(user)
    context = browser.new_context(**context_args)
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "url": live_server.url,
                          "value": client.cookies[settings.SESSION_COOKIE_NAME].value}])
    page = context.new_page()
    page.csp_errors = []
    page.on("console", lambda msg: msg.type == "error" and "Content Security Policy" in msg.text
            and page.csp_errors.append(msg.text))
    return context, page


def test_staff_send_an_on_demand_text_with_f2_and_find_it_in_the_history(browser, live_server, world, office):
    ana = make_guarantor(office, "G-ANA", balance="250.00", time_zone=_awake_zone())
    today = timezone.localdate(timezone.now(), office.tz)
    receive(office, "2026-11-A", [item(ana, statement_date=today.isoformat(),
                                       due_date=(today + timedelta(days=25)).isoformat())])
    mia = Patient.objects.create(practice=office, external_id="P-MIA", first_name="Mia", last_name="Reyes",
                                 mobile_phone="+13125550177", consent_sms=True, guarantor=ana,
                                 time_zone=_awake_zone())
    context, page = signed_in(browser, live_server, world.staff_a, viewport={"width": 1280, "height": 900})
    try:
        page.goto(f"{live_server.url}/patients/{mia.pk}/")
        page.get_by_role("link", name="Send balance notification").click()
        expect(page.get_by_role("heading", name="Send balance notification")).to_be_visible()
        expect(page.get_by_role("radio", name="Mia Reyes (patient): text to (312) 555-0177")).to_be_checked()
        preview = page.get_by_test_id("od-preview")
        expect(preview).to_contain_text("Hi Mia, here is the link to pay your balance")
        expect(page.get_by_test_id("od-when")).to_have_text("It goes now.")

        # Another address for this send, then the text edited: the preview follows as it is typed.
        page.get_by_text("Modify the number for this send").click()
        page.get_by_label("Use another number or email for this send").fill("(312) 555-0199")
        body = page.get_by_label("Message")
        body.fill("{{ practice.name }}: {{ patient.first_name }}, as promised on the phone: "
                  "{{ quickpay_link }}")
        expect(preview).to_contain_text("Lakeside Dental: Mia, as promised on the phone:")
        expect(page.get_by_test_id("sms-facts")).to_contain_text("1 segment")
        send = page.get_by_role("button", name="Send now")
        expect(send).to_have_attribute("aria-keyshortcuts", "F2")
        expect(send).to_contain_text("F2")

        body.focus()
        page.keyboard.press("F2")
        expect(page.get_by_text("Text to Mia Reyes queued. It goes now.")).to_be_visible()
        assert page.url.endswith(f"/patients/guarantors/{ana.pk}/#statements-h")
        history = page.get_by_test_id("on-demand-history")
        expect(history).to_contain_text("to Mia Reyes (patient) (corrected address)")
        expect(history).to_contain_text("On-demand text v1 (edited)")
        sent = Notification.objects.get(kind=ON_DEMAND_KIND)
        assert (sent.address, sent.recipient_id) == ("+13125550199", mia.pk)
        assert sent.body.startswith("Lakeside Dental: Mia, as promised on the phone: http")
        history.get_by_role("link", name="SMS").click()
        expect(page.locator("body")).to_contain_text("+13125550199")
        assert page.csp_errors == []
    finally:
        context.close()


def test_a_patient_pays_from_a_dunning_link_on_a_phone_and_the_dunning_stops(browser, live_server, world,
                                                                            office, settings):
    settings.PUBLIC_BASE_URL = live_server.url
    ana = make_guarantor(office, "G-ANA", balance="250.00", time_zone=_awake_zone())
    Balance.objects.filter(guarantor=ana).update(amount_due="125.00")
    today = timezone.localdate(timezone.now(), office.tz)
    receive(office, "2026-11-A", [item(ana, statement_date=(today - timedelta(days=2)).isoformat(),
                                       due_date=(today + timedelta(days=23)).isoformat())])
    drain_inline()  # the statement email goes; the reminder text waits for its day
    text = Notification.objects.get(kind=BALANCE_KIND, channel="sms", recipient_id=ana.pk)
    assert text.status == Status.QUEUED
    link = re.search(r"https?://\S+/p/[A-Za-z0-9_-]{22}", text.body).group(0)

    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = phone.new_page()
    try:
        page.goto(link)
        expect(page.get_by_role("heading", name="Hello Ana R.")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.get_by_role("radio", name=re.compile("Full balance")).check()
        page.get_by_role("button", name="Continue to payment").click()
        expect(page.get_by_role("heading", name="Pay $250.00")).to_be_visible()
        page.get_by_label("Card number").fill("4242 4242 4242 4242")
        page.get_by_label("Expiry (MM/YY)").fill("12/39")
        page.get_by_label("CVC").fill("123")
        page.get_by_role("button", name="Pay $250.00").click()
        expect(page.get_by_role("heading", name="Thank you")).to_be_visible()
    finally:
        phone.close()
    assert Payment.objects.get().status == "succeeded"
    text.refresh_from_db()
    assert (text.status, text.reason_code) == (Status.WILL_NOT_SEND, ReasonCode.BALANCE_PAID)

    context, staff = signed_in(browser, live_server, world.staff_a, viewport={"width": 390, "height": 844})
    try:
        staff.goto(f"{live_server.url}/patients/guarantors/{ana.pk}/")
        expect(staff.get_by_test_id("balance-total")).to_have_text("$0.00")
        expect(staff.get_by_test_id("statement-history")).to_contain_text("Balance paid")
        assert staff.evaluate("document.documentElement.scrollWidth") <= 390
    finally:
        context.close()
