"""Click through the queue, a row's history and the manage-errors screen in Chromium."""

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from notifications.models import Notification, Status
from notifications.services import Recipient
from tests.test_browser import sign_in

pytestmark = pytest.mark.browser


def test_filter_the_queue_and_open_a_rows_history(page, live_server, world, schedule):
    later = datetime.now(UTC) + timedelta(days=1)
    schedule(recipient=Recipient(kind="patient", id=1, name="Ann Email"), channel="email",
             address="ann@example.test", send_at=later)
    texted = schedule(recipient=Recipient(kind="patient", id=2, name="Bo Text"), send_at=later,
                      template_name="dunning-sms", template_version="7")
    sign_in(page, live_server, world.staff_a.email, world.password)
    page.get_by_role("link", name="Notifications", exact=True).click()
    expect(page.get_by_role("heading", name="Notification queue")).to_be_visible()
    expect(page.locator("#results")).to_contain_text("Ann Email")
    page.get_by_label("Channel").select_option("sms")
    expect(page.locator("#results")).not_to_contain_text("Ann Email")
    expect(page.locator("#results")).to_contain_text("Bo Text")
    expect(page.get_by_test_id("status-counts")).to_contain_text("Queued 1")
    assert "channel=sms" in page.url  # the filter is in the address bar, for reload and sharing
    page.locator(f'tr[data-notification="{texted.pk}"] a').click()
    expect(page.get_by_test_id("message-body")).to_have_text(texted.body)
    expect(page.get_by_text("dunning-sms version 7")).to_be_visible()
    expect(page.get_by_test_id("status-history")).to_contain_text("Queued")
    assert page.csp_errors == []


def test_bulk_cancel_errors(page, live_server, world, schedule):
    failed = [schedule(recipient=Recipient(kind="patient", id=i, name=f"Failed {i}"))
              for i in range(3)]
    Notification.objects.filter(pk__in=[n.pk for n in failed]).update(
        status=Status.DELIVERY_ERROR, last_error="Twilio HTTP 503")
    sign_in(page, live_server, world.staff_a.email, world.password)
    page.goto(f"{live_server.url}/notifications/errors/")
    page.get_by_label(f"Select message {failed[0].pk}").check()
    page.get_by_label(f"Select message {failed[1].pk}").check()
    page.get_by_label("With the selected").select_option("cancel")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_text("2 message(s) updated.")).to_be_visible()
    expect(page.locator("#results")).to_contain_text("Failed 2")  # still an error to handle
    expect(page.locator("#results")).not_to_contain_text("Failed 0")
    statuses = dict(Notification.objects.values_list("pk", "status"))
    assert [statuses[n.pk] for n in failed] == [Status.CANCELLED, Status.CANCELLED,
                                                Status.DELIVERY_ERROR]
    assert page.csp_errors == []
