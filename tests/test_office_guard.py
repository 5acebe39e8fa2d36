"""A form opened for one office and saved after switching to another in another tab is refused."""

from django.urls import reverse

from payments.models import AlertPreference


def _office_form(name, office):
    return {"name": name, "time_zone": "America/Chicago", "office": office}


def test_a_stale_form_for_another_office_is_refused_and_changes_nothing(client_of, world):
    client = client_of(world.admin_ab, office="lakeside")
    # The page was opened for Hillcrest; Lakeside became current in another tab since.
    response = client.post(reverse("office_edit"), _office_form("Renamed", "hillcrest"), follow=True)
    assert "opened for another office" in response.content.decode()
    world.practice_a.refresh_from_db()
    world.practice_b.refresh_from_db()
    assert (world.practice_a.name, world.practice_b.name) == ("Lakeside Dental", "Hillcrest Dental")


def test_a_form_for_the_current_office_is_saved(client_of, world):
    client = client_of(world.admin_ab, office="lakeside")
    response = client.post(reverse("office_edit"), _office_form("Lakeside Family Dental", "lakeside"))
    assert response.status_code == 302
    world.practice_a.refresh_from_db()
    assert world.practice_a.name == "Lakeside Family Dental"


def test_an_htmx_save_from_a_stale_page_is_refused_with_a_refresh(client_of, world):
    client = client_of(world.admin_ab, office="lakeside")
    response = client.post(reverse("alert_preferences"), {"alert": "declined", "delivery": "instant"},
                           headers={"HX-Request": "true", "X-Office": "hillcrest"})
    assert response.headers.get("HX-Refresh") == "true"
    assert not AlertPreference.objects.exists()


def test_the_office_switcher_itself_is_not_refused(client_of, world):
    client = client_of(world.admin_ab, office="lakeside")
    client.post(reverse("office_switch"), {"practice": "hillcrest", "office": "lakeside"})
    assert client.get("/").context["current_practice"] == world.practice_b
