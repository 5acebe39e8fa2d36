import re

from django.core import mail
from django.urls import reverse

from practices.models import AuditEvent, Membership, Role
from practices.tasks import team_invite_send


def test_staff_cannot_open_the_team_page(client_of, world):
    response = client_of(world.staff_a).get(reverse("team"))
    assert response.status_code == 403


def test_admin_lists_only_their_offices_members(client_of, world):
    body = client_of(world.admin_ab, office="lakeside").get(reverse("team")).content.decode()
    assert "staff.a@example.test" in body
    assert "staff.c@example.test" not in body


def test_adding_a_new_person_sends_an_invite_with_a_set_password_link(
        client_of, world, django_capture_on_commit_callbacks):
    client = client_of(world.admin_ab, office="lakeside")
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(reverse("team"), {
            "email": "New.Hire@Example.test", "full_name": "New Hire", "role": "staff"})
    assert response.status_code == 302
    assert len(callbacks) == 1  # the invite is enqueued on commit, not before
    member = Membership.objects.get(practice=world.practice_a, user__email="new.hire@example.test")
    team_invite_send(member.pk)
    assert len(mail.outbox) == 1
    invite = mail.outbox[0]
    assert invite.to == ["new.hire@example.test"] and "Lakeside Dental" in invite.subject
    link = re.search(r"https?://[^/]+(/accounts/reset/\S+/)", invite.body).group(1)
    client.logout()
    page = client.get(link, follow=True)
    assert page.context["validlink"]
    client.post(page.redirect_chain[-1][0], {"new_password1": "first-password-here",
                                             "new_password2": "first-password-here"})
    assert client.login(username="new.hire@example.test", password="first-password-here")
    assert AuditEvent.objects.filter(practice=world.practice_a, action="team.member_added").exists()


def test_adding_an_existing_login_to_another_office_sends_no_invite(
        client_of, world, django_capture_on_commit_callbacks):
    client = client_of(world.admin_ab, office="lakeside")
    client.post(reverse("office_switch"), {"practice": "hillcrest"})
    with django_capture_on_commit_callbacks() as callbacks:
        client.post(reverse("team"), {"email": "staff.a@example.test", "role": "staff"})
    assert Membership.objects.filter(practice=world.practice_b, user=world.staff_a).exists()
    assert callbacks == []


def test_adding_someone_twice_or_with_a_bad_email_gives_a_clear_error(client_of, world):
    client = client_of(world.admin_ab, office="lakeside")
    dup = client.post(reverse("team"), {"email": "staff.a@example.test", "role": "staff"})
    assert "already on this office" in dup.content.decode()
    bad = client.post(reverse("team"), {"email": "not-an-email", "role": "staff"})
    assert "valid email" in bad.content.decode()
    assert Membership.objects.filter(practice=world.practice_a).count() == 2


def test_change_role_and_remove(client_of, world):
    client = client_of(world.admin_ab, office="lakeside")
    staff = Membership.objects.get(practice=world.practice_a, user=world.staff_a)
    client.post(reverse("team_member_role", args=[staff.pk]), {"role": "admin"})
    staff.refresh_from_db()
    assert staff.role == Role.ADMIN
    client.post(reverse("team_member_remove", args=[staff.pk]))
    assert not Membership.objects.filter(pk=staff.pk).exists()


def test_the_last_admin_cannot_be_demoted_or_removed(client_of, world):
    client = client_of(world.admin_ab, office="lakeside")
    me = Membership.objects.get(practice=world.practice_a, user=world.admin_ab)
    response = client.post(reverse("team_member_role", args=[me.pk]), {"role": "staff"},
                           follow=True)
    assert "at least one admin" in response.content.decode()
    client.post(reverse("team_member_remove", args=[me.pk]))
    me.refresh_from_db()
    assert me.role == Role.ADMIN


def test_another_practices_member_answers_404(client_of, world):
    outsider = Membership.objects.get(practice=world.practice_c, user=world.staff_c)
    client = client_of(world.admin_ab, office="lakeside")
    assert client.post(reverse("team_member_remove", args=[outsider.pk])).status_code == 404
    assert Membership.objects.filter(pk=outsider.pk).exists()
