"""The morning at the front desk, in Chromium: select all, deselect two with the keyboard, snooze
one with a date and a reason, send the rest, fix one undeliverable and send it again."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from payments.models import PaymentRequestCampaign, Snooze

from .conftest import make_guarantor

pytestmark = pytest.mark.browser


def _sign_in(page, live_server, world):
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill(world.staff_a.email)
    page.get_by_label("Password").fill(world.password)
    page.get_by_role("button", name="Sign in").click()


def test_select_all_deselect_two_snooze_one_send_the_rest_and_fix_an_undeliverable(page, live_server,
                                                                                   live_desk,
                                                                                   world):
    names = ["Ada", "Ben", "Cal", "Dee", "Eli", "Fay", "Gus", "Hal"]
    guarantors = [make_guarantor(live_desk.practice, f"G-{n}", first=name, total=f"{900 - 10 * n}.00",
                                 mobile="" if name == "Hal" else f"+1312555{n:04d}")
                  for n, name in enumerate(names)]
    live_desk.make_list()
    _sign_in(page, live_server, world)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Payments").click()
    page.get_by_role("navigation", name="Payments views").get_by_role("link",
                                                                      name="Bulk payment request").click()
    expect(page.get_by_test_id("pending-count")).to_have_text("8")

    # Select all (every pending guarantor), then deselect two with the keyboard.
    page.get_by_test_id("select-all").click()
    expect(page.get_by_test_id("selected-count")).to_have_text("8")
    for name in ("Ben", "Dee"):
        box = page.get_by_role("checkbox", name=f"Select {name} Reyes")
        box.focus()
        page.keyboard.press("Space")
        expect(box).not_to_be_checked()
    expect(page.get_by_test_id("selected-count")).to_have_text("6")
    expect(page.get_by_test_id("selection-bar")).to_contain_text("but 2 deselected")

    # Snooze one, from the clock icon, with a date and a reason, in the dialog.
    page.get_by_role("link", name="Snooze Cal Reyes").click()
    dialog = page.get_by_role("dialog", name="Snooze Cal R.")
    expect(dialog).to_be_visible()
    until = timezone.localdate(timezone=live_desk.practice.tz) + timedelta(days=5)
    dialog.get_by_label("Re-enroll on").fill(until.isoformat())
    dialog.get_by_label("Reason").select_option(label="Claim not started")
    dialog.get_by_role("button", name="Snooze").click()
    expect(page.get_by_text("Snoozed 1 guarantor until")).to_be_visible()
    assert Snooze.objects.get().guarantor == guarantors[2]
    expect(page.get_by_test_id("pending-count")).to_have_text("7")
    expect(page.get_by_test_id("selected-count")).to_have_text("5")

    # Send the rest, after the preview says what will happen.
    page.get_by_test_id("send").click()
    expect(page.get_by_role("heading", name="Send 5 payment requests?")).to_be_visible()
    expect(page.get_by_test_id("send-preview")).to_contain_text("1 with nothing to send to")
    page.get_by_test_id("confirm-send").click()
    expect(page.get_by_text(re.compile("Payment requests started for 5 guarantors"))).to_be_visible()
    sent = set(PaymentRequestCampaign.objects.values_list("guarantor__first_name", flat=True))
    assert sent == {"Ada", "Eli", "Fay", "Gus", "Hal"}
    expect(page.get_by_test_id("pending-count")).to_have_text("2")

    # Hal had no mobile number and no email: fix it from the undeliverable list and send again.
    page.get_by_role("navigation", name="Payments views").get_by_role("link", name="Undeliverable").click()
    row = page.get_by_test_id("undeliverable").get_by_role("row").filter(has_text="Hal")
    expect(row).to_contain_text("No mobile number and no email")
    row.get_by_role("link", name="Add a mobile number for Hal Reyes and send again").click()
    page.get_by_role("textbox", name="Mobile number").fill("312 555 0188")
    page.get_by_label("The guarantor gave this number").check()
    page.get_by_test_id("resend").click()
    expect(page.get_by_text("Update the mobile number in your practice-management system")).to_be_visible()
    expect(page.get_by_test_id("fixes")).to_contain_text("(312) 555-0188")
    campaign = PaymentRequestCampaign.objects.get(guarantor=guarantors[7])
    assert (campaign.state, campaign.address, campaign.attempt) == ("active", "+13125550188", 2)
    assert page.csp_errors == []
