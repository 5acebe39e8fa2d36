"""A patient pays on a phone-sized screen, with JavaScript off, through the sandbox checkout."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from patients.models import Balance
from payments.models import Payment

pytestmark = pytest.mark.browser


def test_a_patient_pays_the_amount_due_on_a_phone_through_the_sandbox_checkout(browser, live_server, office,
                                                                              settings):
    settings.PUBLIC_BASE_URL = live_server.url
    token = office.link()
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                  java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/p/{token}")
        expect(page.get_by_role("heading", name="Hello Ana R.")).to_be_visible()
        expect(page.get_by_test_id("qp-balance")).to_have_text("$250.00")
        # One column: nothing wider than the phone's screen.
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        amount_due = page.get_by_role("radio", name="Amount due $100.00")
        expect(amount_due).to_be_checked()
        box = page.locator("label.qp-choice").first.bounding_box()
        assert box["height"] >= 44  # a large target for a thumb
        page.get_by_label("Email for your receipt (optional)").fill("ana@example.test")
        page.get_by_role("button", name="Continue to payment").click()

        expect(page.get_by_role("heading", name="Pay $100.00")).to_be_visible()
        page.get_by_label("Card number").fill("4000 0000 0000 0002")
        page.get_by_label("Expiry (MM/YY)").fill("12/39")
        page.get_by_label("CVC").fill("123")
        page.get_by_role("button", name="Pay $100.00").click()
        expect(page.get_by_role("alert")).to_contain_text("declined")
        assert Payment.objects.get().status == "pending"

        page.get_by_label("Card number").fill("4242 4242 4242 4242")
        page.get_by_label("Expiry (MM/YY)").fill("12/39")
        page.get_by_label("CVC").fill("123")
        page.get_by_role("button", name="Pay $100.00").click()
        expect(page.get_by_role("heading", name="Thank you")).to_be_visible()
        expect(page.get_by_test_id("paid-confirmed")).to_contain_text("$100.00")

        payment = Payment.objects.get()
        assert (payment.status, payment.amount, payment.payer_email) == ("succeeded", 100, "ana@example.test")
        assert Balance.objects.get(guarantor=office.guarantor).total == Decimal("150.00")
        page.goto(f"{live_server.url}/p/{token}")
        expect(page.get_by_test_id("qp-balance")).to_have_text("$150.00")
    finally:
        context.close()
