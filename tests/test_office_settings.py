from django.urls import reverse

from practices.models import AuditEvent


def _form(**overrides):
    data = {"name": "Lakeside Dental", "time_zone": "America/Chicago", "phone": "+13125550100",
            "address": "1 Lake St", "addon_voice": "on"}
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_admin_switches_add_ons_and_the_change_is_audited(client_of, world):
    client = client_of(world.admin_ab, office="lakeside")
    response = client.post(reverse("office_edit"), _form(addon_on_demand="on"))
    assert response.status_code == 302
    world.practice_a.refresh_from_db()
    assert world.practice_a.addon_voice and world.practice_a.addon_on_demand
    assert not world.practice_a.addon_balance_notifications
    event = AuditEvent.objects.get(practice=world.practice_a, action="practice.updated")
    assert event.actor == world.admin_ab and "addon_voice" in event.detail["changes"]
    client.post(reverse("office_edit"), _form(addon_on_demand="on"))
    assert AuditEvent.objects.filter(action="practice.updated").count() == 1  # nothing changed


def test_bad_time_zone_and_empty_name_are_refused_and_change_nothing(client_of, world):
    client = client_of(world.admin_ab, office="lakeside")
    response = client.post(reverse("office_edit"), _form(name="", time_zone="Mars/Base"))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "name" in errors and "time_zone" in errors
    world.practice_a.refresh_from_db()
    assert world.practice_a.name == "Lakeside Dental" and not world.practice_a.addon_voice


def test_staff_cannot_edit_office_settings(client_of, world):
    client = client_of(world.staff_a)
    assert client.get(reverse("office_edit")).status_code == 403
    assert client.post(reverse("office_edit"), _form(name="Hacked")).status_code == 403
    world.practice_a.refresh_from_db()
    assert world.practice_a.name == "Lakeside Dental"


def test_the_office_phone_must_be_a_real_number_and_is_stored_in_e164(client_of, world):
    client = client_of(world.admin_ab, office="lakeside")
    bad = client.post(reverse("office_edit"), _form(phone="abc"))
    assert "Enter a phone number" in bad.content.decode()
    client.post(reverse("office_edit"), _form(phone="(312) 555-0142"))
    world.practice_a.refresh_from_db()
    assert world.practice_a.phone == "+13125550142"
