"""The queue, history and errors screens given dates at the calendar's edges, page links that
were never written by the list, and ids past 64 bits: a message on the form, never a 500."""

import pytest
from django.urls import reverse

from notifications.models import Notification, Status
from practices.models import Practice

pytestmark = pytest.mark.django_db
RANGE_ERROR = "Enter a date from 1900-01-01 to 2999-12-31."
LINK_ERROR = "That page link is not valid; start from the first page."


@pytest.fixture
def staff(client_of, world, schedule):
    # The office furthest east of UTC: its midnight of 0001-01-01 is in the year 0 in UTC.
    Practice.objects.filter(pk=world.practice_a.pk).update(time_zone="Pacific/Kiritimati")
    schedule()
    client = client_of(world.staff_a, office="lakeside")
    client.raise_request_exception = False
    return client


@pytest.mark.parametrize("view", ["notifications", "notification_history", "notification_errors"])
@pytest.mark.parametrize(("query", "message"), [
    ({"date_to": "9999-12-31"}, RANGE_ERROR),
    ({"date_from": "0001-01-01"}, RANGE_ERROR),
    ({"date_from": "1899-12-31", "date_to": "2026-01-01"}, RANGE_ERROR),
    ({"after": "0001-01-01T00:00:00+05:00_5"}, LINK_ERROR),
    ({"after": "9999-12-31T23:59:59-05:00_5"}, LINK_ERROR),
    ({"after": "2026-01-01T00:00:00+00:00_18446744073709551616"}, LINK_ERROR),
    ({"after": "2026-01-01T00:00:00_5"}, LINK_ERROR),  # no offset: never written by the list
])
def test_a_filter_beyond_the_calendar_is_a_form_error(staff, view, query, message):
    response = staff.get(reverse(view), query)
    assert response.status_code == 200
    assert message in response.content.decode()
    counts = staff.get(reverse("notification_counts"), {**query, "view": "history"})
    assert counts.status_code == 400


def test_the_widest_dates_allowed_still_list_the_messages(staff):
    response = staff.get(reverse("notification_history"),
                         {"date_from": "1900-01-01", "date_to": "2999-12-31"})
    assert response.status_code == 200 and "Pat Doe" in response.content.decode()


@pytest.mark.parametrize("ids", [["18446744073709551616"], ["9223372036854775808"], ["\uff19"], ["-1"]])
def test_bulk_actions_refuse_ids_that_are_not_64_bit_ids(staff, world, ids):
    queued = Notification.objects.get(practice=world.practice_a)
    response = staff.post(reverse("notification_bulk"), {"action": "cancel", "ids": [*ids, str(queued.pk)]},
                          follow=True)
    assert response.status_code == 200
    assert "Select messages from the list." in response.content.decode()
    queued.refresh_from_db()
    assert queued.status == Status.QUEUED


@pytest.mark.parametrize("sid", ["MG" + "\uff42" * 32, "MG" + "\uff11" * 32, "MG" + "\u0661" * 32,
                                 "MG" + "z" * 32, "MG" + "b" * 31 + "\u202e"])
def test_a_messaging_service_sid_is_ascii_hexadecimal(client_of, world, sid):
    from notifications.models import MessagingSettings

    response = client_of(world.admin_ab, office="lakeside").post(reverse("messaging_settings"), {
        "twilio_messaging_service_sid": sid, "quiet_hours_start": "09:00", "quiet_hours_end": "20:00",
        "frequency_cap": "3", "frequency_window_days": "10"})
    assert response.status_code == 200
    assert "starts with MG and has 34 characters" in response.content.decode()
    assert not MessagingSettings.objects.exists()
