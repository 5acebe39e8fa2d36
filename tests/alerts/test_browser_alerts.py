"""In the browser: a member of two offices turns one alert off for one office, and it sticks."""

import json

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from notifications.models import SandboxMessage
from payments.models import AlertDelivery
from practices.services import api_key_create
from tests.conftest import wait_for
from tests.test_browser import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.worker]


def _post_event(browser_page, live_server, key, event_type, application_id):
    response = browser_page.request.post(
        f"{live_server.url}/api/v1/applications/events",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        data=json.dumps({
            "event_id": f"evt-{application_id}-{event_type}", "application_id": application_id,
            "type": event_type, "occurred_at": timezone.now().isoformat(),
            "patient": {"external_id": f"pms-{application_id}", "first_name": "Maria",
                        "last_name": "Garcia"},
        }))
    return response.status


def test_member_of_two_offices_turns_declined_off_for_one_office(page, live_server, world,
                                                                   celery_worker):
    celery_worker()
    _, key_a = api_key_create(practice=world.practice_a, label="provider")
    sign_in(page, live_server, world.admin_ab.email, world.password)
    page.get_by_role("combobox", name="Office").select_option(label="Lakeside Dental")
    page.get_by_role("button", name="Switch").click()
    expect(page.get_by_text("Now working in Lakeside Dental.")).to_be_visible()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Payments").click()
    page.get_by_role("link", name="Alert preferences").click()
    expect(page.get_by_role("heading", name="Alert preferences · Lakeside Dental")).to_be_visible()

    declined = page.get_by_role("switch", name="Declined application")
    expect(declined).to_be_checked()
    declined.click()  # saves at once (htmx): no button to press
    row = page.locator('form[data-alert="declined"]')
    expect(row.get_by_role("status")).to_have_text("Saved")
    expect(row.get_by_test_id("mode-declined")).to_have_text("Off")
    expect(page.get_by_role("switch", name="Declined application")).not_to_be_checked()
    page.get_by_label("Delivery of payment plan activated alerts").select_option("digest")
    expect(page.get_by_test_id("mode-activated")).to_have_text("Daily digest")

    page.reload()
    expect(page.get_by_role("switch", name="Declined application")).not_to_be_checked()
    expect(page.get_by_role("switch", name="Open approval")).to_be_checked()
    overview = page.get_by_test_id("team-overview")
    expect(overview.locator('tr[data-member="admin.ab@example.test"]')).to_contain_text("Off")
    assert page.csp_errors == []

    assert _post_event(page, live_server, key_a, "declined", "fin-browser") == 202
    colleague = wait_for(lambda: SandboxMessage.objects.filter(to=world.staff_a.email).first(),
                         timeout=30, message="the colleague's declined alert")
    assert colleague.subject == "Declined application: Maria G. · Lakeside Dental"
    assert not SandboxMessage.objects.filter(to=world.admin_ab.email).exists()
    assert not AlertDelivery.objects.filter(user=world.admin_ab).exists()

    # The other office is untouched: a declined application at Hillcrest still reaches them.
    _, key_b = api_key_create(practice=world.practice_b, label="provider")
    assert _post_event(page, live_server, key_b, "declined", "fin-hill") == 202
    mine = wait_for(lambda: SandboxMessage.objects.filter(to=world.admin_ab.email).first(),
                    timeout=30, message="the Hillcrest alert")
    assert mine.subject == "Declined application: Maria G. · Hillcrest Dental"
