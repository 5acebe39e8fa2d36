"""An admin sets the practice's sender, quiet-hours window, frequency cap and rate."""

from datetime import time

import pytest
from playwright.sync_api import expect

from notifications.models import MessagingSettings
from practices.models import AuditEvent
from tests.test_browser import sign_in

VALID = {"twilio_messaging_service_sid": "MG" + "b" * 32, "twilio_from_number": "+1 312 555 0100",
         "quiet_hours_start": "09:00", "quiet_hours_end": "20:00", "frequency_cap": "3",
         "frequency_window_days": "10", "rate_per_second": ""}


def test_admin_saves_messaging_settings(client_of, world):
    client = client_of(world.admin_ab, office="lakeside")
    response = client.post("/notifications/settings/", VALID, follow=True)
    assert "Messaging settings saved." in response.content.decode()
    saved = MessagingSettings.objects.get(practice=world.practice_a)
    assert saved.twilio_from_number == "+13125550100"
    assert (saved.quiet_hours_start, saved.quiet_hours_end) == (time(9), time(20))
    assert (saved.frequency_cap, saved.frequency_window_days, saved.rate_per_second) == (3, 10, None)
    assert AuditEvent.objects.filter(practice=world.practice_a,
                                     action="notifications.settings_changed").exists()
    assert not MessagingSettings.objects.filter(practice=world.practice_b).exists()


def test_staff_cannot_change_messaging_settings(client_of, world):
    response = client_of(world.staff_a, office="lakeside").post("/notifications/settings/", VALID)
    assert response.status_code == 403
    assert not MessagingSettings.objects.exists()


@pytest.mark.parametrize("field,value,message", [
    ("quiet_hours_start", "07:30", "may not start before 08:00"),
    ("quiet_hours_end", "21:30", "may not go on after 21:00"),
    ("quiet_hours_end", "08:30", "The end must be after the start"),
    ("twilio_messaging_service_sid", "XX123", "starts with MG"),
    ("twilio_from_number", "call me", "international form"),
    ("frequency_cap", "0", "Between 1 and 20"),
    ("frequency_window_days", "400", "Between 1 and 60 days"),
    ("rate_per_second", "-1", "More than 0"),
])
def test_bad_messaging_settings_are_refused(client_of, world, field, value, message):
    response = client_of(world.admin_ab, office="lakeside").post(
        "/notifications/settings/", {**VALID, field: value})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not MessagingSettings.objects.exists()


@pytest.mark.browser
def test_admin_narrows_the_sending_window_in_the_browser(page, live_server, world):
    sign_in(page, live_server, world.admin_ab.email, world.password)
    page.goto(f"{live_server.url}/notifications/")
    page.get_by_role("combobox", name="Office").select_option(label="Lakeside Dental")
    page.get_by_role("button", name="Switch").click()
    page.get_by_role("link", name="Messaging settings").click()
    page.get_by_label("Texts and calls from").fill("10:00")
    page.get_by_label("until").fill("18:00")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Messaging settings saved.")).to_be_visible()
    saved = MessagingSettings.objects.get(practice=world.practice_a)
    assert (saved.quiet_hours_start, saved.quiet_hours_end) == (time(10), time(18))
    assert page.csp_errors == []
