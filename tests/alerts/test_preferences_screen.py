"""The alert preferences screen: own choices per office, saved one alert at a time; team overview."""

import pytest
from django.urls import reverse

from payments.models import AlertPreference
from practices.models import Membership

pytestmark = pytest.mark.django_db

URL = "/payments/alerts/"


def test_the_screen_lists_five_switches_on_by_default_with_labels(client_of, world):
    response = client_of(world.staff_a).get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('role="switch"') == 5
    assert html.count(" checked") == 5
    for label in ("Incomplete application", "Declined application", "Open approval",
                  "Payment plan activated", "Pre-qualified"):
        assert f">{label}</label>" in html


def test_a_post_without_javascript_saves_and_redirects(client_of, world):
    client = client_of(world.staff_a)
    response = client.post(URL, {"alert": "declined", "delivery": "instant"})  # switch unchecked: off
    assert response.status_code == 302
    preference = AlertPreference.objects.get(membership__user=world.staff_a)
    assert (preference.alert, preference.mode) == ("declined", "off")
    assert "Saved: Declined application." in client.get(URL).content.decode()


def test_an_htmx_post_saves_and_answers_with_the_row_only(client_of, world):
    client = client_of(world.staff_a)
    response = client.post(URL, {"alert": "activated", "enabled": "on", "delivery": "digest"},
                           headers={"HX-Request": "true"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html and 'data-alert="activated"' in html and "Saved" in html
    assert AlertPreference.objects.get(membership__user=world.staff_a, alert="activated").mode == "digest"


@pytest.mark.parametrize("data", [
    {"alert": "nonsense", "delivery": "instant"},
    {"alert": "declined", "delivery": "weekly"},
    {"delivery": "instant"},
])
def test_bad_choices_are_refused(client_of, world, data):
    response = client_of(world.staff_a).post(URL, data)
    assert response.status_code == 400
    assert "could not be saved" in response.content.decode()
    assert not AlertPreference.objects.exists()


def test_choices_belong_to_the_current_office(client_of, world):
    client = client_of(world.admin_ab, office="hillcrest")
    client.post(URL, {"alert": "declined", "delivery": "instant"})
    saved = AlertPreference.objects.get()
    assert saved.membership == Membership.objects.get(user=world.admin_ab, practice=world.practice_b)
    client.post(reverse("office_switch"), {"practice": "lakeside"})
    assert client.get(URL).content.decode().count(" checked") == 5


def test_admins_see_who_receives_what_and_staff_do_not(client_of, world):
    staff = Membership.objects.get(user=world.staff_a, practice=world.practice_a)
    AlertPreference.objects.create(membership=staff, alert="declined", enabled=False)
    html = client_of(world.admin_ab, office="lakeside").get(URL).content.decode()
    assert 'data-testid="team-overview"' in html
    row = html.split('data-member="staff.a@example.test"')[1].split("</tr>")[0]
    assert row.count("Instant") == 4 and "Off" in row
    assert "staff.c@example.test" not in html
    assert 'data-testid="team-overview"' not in client_of(world.staff_a).get(URL).content.decode()


def test_application_pages_are_scoped_to_the_office(client_of, world, post_event_direct):
    application = post_event_direct(world.practice_a)
    url = f"/payments/applications/{application.pk}/"
    assert client_of(world.staff_a).get(url).status_code == 200
    assert client_of(world.admin_ab, office="hillcrest").get(url).status_code == 404
    assert client_of(world.staff_c).get(f"{url}?office=lakeside").status_code == 404


def test_the_alert_link_switches_a_multi_office_member_to_the_application_office(client_of, world,
                                                                                  post_event_direct):
    application = post_event_direct(world.practice_a)
    url = f"/payments/applications/{application.pk}/"
    client = client_of(world.admin_ab, office="hillcrest")
    assert "Switch to Lakeside Dental" in client.get(f"{url}?office=lakeside").content.decode()
    response = client.post("/office/switch/", {"practice": "lakeside", "next": url}, follow=True)
    assert response.status_code == 200 and "Ann Lee" in response.content.decode()
    assert response.context["current_practice"] == world.practice_a
    assert client.get("/").context["current_practice"] == world.practice_a  # remembered


def test_the_application_list_links_to_each_application(client_of, world, post_event_direct):
    application = post_event_direct(world.practice_a)
    url = f"/payments/applications/{application.pk}/"
    listing = client_of(world.staff_a).get("/payments/").content.decode()
    assert url in listing


@pytest.fixture
def post_event_direct():
    from django.utils import timezone

    from payments.services import application_event_record

    def record(practice):
        return application_event_record(
            practice=practice, event_id="e-1", application_id="fin-1", type="started",
            occurred_at=timezone.now(), patient_external_id="p-1", patient_first_name="Ann",
            patient_last_name="Lee").event.application

    return record


def test_the_application_page_shows_its_timeline_in_office_time(client_of, world):
    from datetime import UTC, datetime

    from payments.services import application_event_record

    for n, (event_type, hour) in enumerate([("approved", 16), ("started", 15)]):
        result = application_event_record(
            practice=world.practice_a, event_id=f"t-{n}", application_id="fin-7", type=event_type,
            occurred_at=datetime(2027, 3, 1, hour, 0, tzinfo=UTC), patient_external_id="p-7",
            patient_first_name="Lee", patient_last_name="Chan")
    url = f"/payments/applications/{result.event.application.pk}/"
    html = client_of(world.staff_a).get(url).content.decode()
    timeline = html.split('id="timeline"')[1]
    started, approved = timeline.index("Mar 1, 2027 9:00 AM CST"), timeline.index("Mar 1, 2027 10:00 AM CST")
    assert started < approved  # the timeline follows occurred_at, not arrival
    assert "Open approval: due Mar 3, 2027 10:00 AM CST" in html
