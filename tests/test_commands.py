import pytest
from django.core.management import CommandError, call_command

from practices.models import Membership, Practice, Role


def test_create_practice_prints_the_slug(db, capsys):
    call_command("create_practice", "--name", "Maple Family Dentistry", "--timezone",
                 "America/Denver")
    slug = capsys.readouterr().out.strip()
    assert slug == "maple-family-dentistry"
    assert Practice.objects.get(slug=slug).time_zone == "America/Denver"
    call_command("create_practice", "--name", "Maple Family Dentistry", "--timezone", "UTC")
    assert capsys.readouterr().out.strip() == "maple-family-dentistry-2"


def test_create_practice_refuses_an_unknown_time_zone(db):
    with pytest.raises(CommandError, match="not a known time zone"):
        call_command("create_practice", "--name", "X", "--timezone", "Mars/Olympus")


def test_create_practice_with_a_taken_slug_fails(db):
    call_command("create_practice", "--name", "A", "--timezone", "UTC", "--slug", "same")
    with pytest.raises(CommandError, match="taken"):
        call_command("create_practice", "--name", "B", "--timezone", "UTC", "--slug", "same")


def test_add_team_member_with_password_can_sign_in(client, world, capsys):
    call_command("add_team_member", "--practice", "lakeside", "--email", "ops@example.test",
                 "--role", "admin", "--password", "ops-password-123")
    assert Membership.objects.get(user__email="ops@example.test").role == Role.ADMIN
    signed_in = client.post("/accounts/login/", {"username": "ops@example.test",
                                                 "password": "ops-password-123"})
    assert signed_in.status_code == 302 and "_auth_user_id" in client.session


def test_add_team_member_without_password_invites_and_adds_no_one_yet(world, capsys):
    from django.core import mail

    from practices.models import Invitation
    from practices.tasks import team_invite_send

    call_command("add_team_member", "--practice", "lakeside", "--email", "staff.c@example.test",
                 "--role", "staff")
    assert "invitation" in capsys.readouterr().out
    assert not Membership.objects.filter(practice=world.practice_a, user=world.staff_c).exists()
    team_invite_send(Invitation.objects.get(email="staff.c@example.test").pk)
    assert "/invites/" in mail.outbox[0].body


def test_add_team_member_to_unknown_practice_fails(db):
    with pytest.raises(CommandError, match="No practice"):
        call_command("add_team_member", "--practice", "nope", "--email", "a@b.test",
                     "--role", "staff")


def test_send_due_exits_cleanly_with_nothing_due(db, capsys):
    call_command("send_due")
    assert capsys.readouterr().out.strip()


def test_seed_demo_is_idempotent(db, capsys):
    call_command("seed_demo")
    first = (Practice.objects.count(), Membership.objects.count())
    call_command("seed_demo")
    assert (Practice.objects.count(), Membership.objects.count()) == first
    out = capsys.readouterr().out
    assert "admin@demo.test" in out and "already present" in out
