"""Add-ons: one registry read by the model, the office form, the outbox and the commands; a
screen behind an add-on that is off answers with who can turn it on."""

import pytest
from django.core.management import CommandError, call_command

from notifications.services import Recipient, notification_schedule
from practices.access import addon_required
from practices.addons import ADDONS
from practices.forms import PracticeSettingsForm
from practices.models import Practice


@pytest.mark.urls("tests.addon_screen_urls")
def test_a_screen_behind_an_add_on_that_is_off_says_which_and_who_can_turn_it_on(client_of, world):
    staff = client_of(world.staff_a)
    refused = staff.get("/voice-screen/")
    body = refused.content.decode()
    assert refused.status_code == 403
    assert "Voice messages is off for Lakeside Dental" in body
    assert "admin.ab@example.test" in body  # the office's admin, who can turn it on
    admin = client_of(world.admin_ab, office="lakeside")
    assert "/settings/office/" in admin.get("/voice-screen/").content.decode()
    world.practice_a.addon_voice = True
    world.practice_a.save()
    opened = staff.get("/voice-screen/")
    assert opened.status_code == 200 and opened.content == b"voice screen of Lakeside Dental"


@pytest.mark.urls("tests.addon_screen_urls")
def test_an_add_on_screen_still_needs_a_signed_in_member(client, world):
    assert client.get("/voice-screen/")["Location"].startswith("/accounts/login/")


def test_an_unknown_add_on_name_fails_where_it_is_written():
    with pytest.raises(ValueError, match="fax"):
        addon_required("fax")


def test_every_add_on_is_a_switch_on_the_office_and_in_its_form_and_known_to_the_outbox(world):
    form = PracticeSettingsForm()
    for addon in ADDONS:
        assert isinstance(Practice._meta.get_field(addon.field).default, bool)
        assert form.fields[addon.field].label == addon.label
        notification_schedule(practice=world.practice_a, recipient=Recipient(kind="patient", id=1),
                              channel="email", address="a@example.test", kind="test", body="x",
                              idempotency_key=f"addon-{addon.name}", addon=addon.name)
    assert [a.name for a in ADDONS] == ["balance_notifications", "voice", "on_demand",
                                        "online_payments"]


def test_create_practice_switches_on_the_add_ons_it_is_given(db, capsys):
    call_command("create_practice", "--name", "Maple Dental", "--timezone", "America/Denver",
                 "--addons", " voice, online_payments ")
    practice = Practice.objects.get(slug=capsys.readouterr().out.strip())
    assert (practice.addon_voice, practice.addon_online_payments) == (True, True)
    assert (practice.addon_balance_notifications, practice.addon_on_demand) == (False, False)
    call_command("create_practice", "--name", "Bare Dental", "--timezone", "UTC", "--addons", "")
    bare = Practice.objects.get(slug=capsys.readouterr().out.strip())
    assert not any(getattr(bare, a.field) for a in ADDONS)
    call_command("create_practice", "--name", "Full Dental", "--timezone", "UTC", "--addons",
                 "balance_notifications,voice,on_demand,online_payments")
    full = Practice.objects.get(slug=capsys.readouterr().out.strip())
    assert all(getattr(full, a.field) for a in ADDONS)


def test_create_practice_refuses_unknown_add_ons_naming_them(db):
    with pytest.raises(CommandError, match=r"fax, sms.*balance_notifications"):
        call_command("create_practice", "--name", "X", "--timezone", "UTC",
                     "--addons", "voice,fax,sms")
    assert not Practice.objects.exists()
