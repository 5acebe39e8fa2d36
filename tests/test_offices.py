import pytest
from django.http import Http404
from django.urls import reverse

from practices import selectors, services


def test_single_office_user_sees_no_switcher(client_of, world):
    body = client_of(world.staff_a).get(reverse("dashboard")).content.decode()
    assert 'id="office-select"' not in body
    assert "Lakeside Dental" in body


def test_multi_office_user_switches_and_the_choice_is_remembered(client_of, world):
    client = client_of(world.admin_ab)
    first = client.get(reverse("dashboard")).content.decode()
    assert 'id="office-select"' in first
    response = client.post(reverse("office_switch"),
                           {"practice": "lakeside", "next": reverse("team")})
    assert response["Location"] == reverse("team")
    assert client.get(reverse("dashboard")).context["current_practice"] == world.practice_a
    client.post(reverse("office_switch"), {"practice": "hillcrest"})
    assert client.get(reverse("dashboard")).context["current_practice"] == world.practice_b
    assert client.get(reverse("team")).context["current_practice"] == world.practice_b


def test_switching_to_an_office_you_are_not_in_is_refused(client_of, world):
    client = client_of(world.admin_ab)
    client.post(reverse("office_switch"), {"practice": "hillcrest"})
    response = client.post(reverse("office_switch"), {"practice": "other-town"}, follow=True)
    assert "not a member of that office" in response.content.decode()
    assert response.context["current_practice"] == world.practice_b


def test_switch_ignores_an_offsite_next(client_of, world):
    response = client_of(world.admin_ab).post(
        reverse("office_switch"), {"practice": "lakeside", "next": "https://evil.example/"})
    assert response["Location"] == reverse("dashboard")


def test_user_without_an_office_gets_a_clear_page(client_of, db):
    from tests.factories import UserFactory

    response = client_of(UserFactory()).get(reverse("dashboard"))
    assert response.status_code == 403
    assert "not on an office" in response.content.decode()


@pytest.mark.parametrize("helper", ["team_member_get", "api_key_get"])
def test_access_helpers_answer_404_for_another_practices_object(world, helper):
    key, _ = services.api_key_create(practice=world.practice_c, label="c")
    c_member = world.practice_c.memberships.first()
    obj = {"team_member_get": c_member, "api_key_get": key}[helper]
    get = getattr(selectors, helper)
    assert get(practice=world.practice_c, pk=obj.pk) == obj
    with pytest.raises(Http404):
        get(practice=world.practice_a, pk=obj.pk)


def test_a_link_naming_another_office_asks_before_switching(client_of, world):
    """Alert emails link to ?office=<slug>; following a link (a GET) changes nothing remembered:
    the page offers the switch, which is a POST."""
    client = client_of(world.admin_ab, office="hillcrest")
    page = client.get("/patients/?office=lakeside&flag=collections")
    body = page.content.decode()
    assert page.status_code == 200 and "Switch to Lakeside Dental" in body
    assert 'name="next" value="/patients/?flag=collections"' in body
    assert client.get("/").context["current_practice"] == world.practice_b
    switched = client.post(reverse("office_switch"),
                           {"practice": "lakeside", "next": "/patients/?flag=collections"})
    assert switched["Location"] == "/patients/?flag=collections"
    assert client.get("/").context["current_practice"] == world.practice_a
    # Naming the current office, or one the user is not in, just shows the page.
    assert client.get("/?office=lakeside").context["current_practice"] == world.practice_a
    assert client.get("/?office=other-town").context["current_practice"] == world.practice_a


def test_screens_show_times_in_the_current_offices_time_zone(client_of, world):
    from datetime import UTC, datetime

    from practices.models import AuditEvent

    event = AuditEvent.objects.create(practice=world.practice_a, action="test.event")
    AuditEvent.objects.filter(pk=event.pk).update(created_at=datetime(2026, 7, 1, 3, 30, tzinfo=UTC))
    body = client_of(world.staff_a).get(reverse("practice_settings")).content.decode()
    assert "2026-06-30 22:30" in body  # Chicago, UTC-5 in summer
