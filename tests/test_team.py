import re

from django.core import mail
from django.urls import reverse

from practices import services
from practices.models import AuditEvent, Invitation, Membership, Role, User
from practices.tasks import team_invite_send


def test_staff_cannot_open_the_team_page(client_of, world):
    response = client_of(world.staff_a).get(reverse("team"))
    assert response.status_code == 403


def test_admin_lists_only_their_offices_members(client_of, world):
    body = client_of(world.admin_ab, office="lakeside").get(reverse("team")).content.decode()
    assert "staff.a@example.test" in body
    assert "staff.c@example.test" not in body


def _invite(client, email, role="staff", **extra):
    """Post the team page's form, run the email task the commit enqueues; the page and link."""
    with_callbacks = extra.pop("callbacks")
    with with_callbacks() as callbacks:
        response = client.post(reverse("team"), {"email": email, "role": role, **extra},
                               follow=True)
    assert len(callbacks) == 1  # the email goes once the invitation is committed
    invitation = Invitation.objects.get(email=email.lower(), accepted_at=None)
    sent_before = len(mail.outbox)
    team_invite_send(invitation.pk)
    message = mail.outbox[sent_before]
    link = re.search(r"https?://[^/]+(/invites/\S+/)", message.body).group(1)
    return response, message, link


def _answer(response) -> str:
    return [str(m) for m in response.context["messages"]][-1]


def test_the_answer_is_the_same_whether_or_not_the_email_has_an_account(
        client_of, world, django_capture_on_commit_callbacks):
    client = client_of(world.admin_ab, office="lakeside")
    known, _, _ = _invite(client, "staff.c@example.test", callbacks=django_capture_on_commit_callbacks)
    unknown, _, _ = _invite(client, "nobody.yet@example.test",
                            callbacks=django_capture_on_commit_callbacks)
    assert _answer(known).replace("staff.c@", "X@") == _answer(unknown).replace("nobody.yet@", "X@")
    assert "when they accept" in _answer(known)
    body = unknown.content.decode()
    assert 'data-invitation="staff.c@example.test"' in body  # both wait alike
    assert 'data-invitation="nobody.yet@example.test"' in body
    # Nobody joined: an existing login is added only by its owner's acceptance.
    assert not Membership.objects.filter(practice=world.practice_a, user=world.staff_c).exists()
    assert not User.objects.filter(email="nobody.yet@example.test").exists()


def test_an_existing_login_joins_another_office_only_by_accepting(
        client_of, client, world, django_capture_on_commit_callbacks):
    admin = client_of(world.admin_ab, office="lakeside")
    _, message, link = _invite(admin, "Staff.C@Example.test", role="admin",
                               callbacks=django_capture_on_commit_callbacks)
    assert message.to == ["staff.c@example.test"] and "Lakeside Dental" in message.subject
    admin.logout()
    # Signed out: the link asks to sign in, and the token leaves the address bar at once.
    first = client.get(link)
    assert first.status_code == 302 and "/invites/" in first["Location"]
    assert link.split("/")[-2] not in first["Location"]
    page = client.get(first["Location"])
    assert "Sign in as staff.c@example.test" in page.content.decode()
    client.force_login(world.staff_c)
    page = client.get(first["Location"])
    assert "Join Lakeside Dental" in page.content.decode()
    assert not Membership.objects.filter(practice=world.practice_a, user=world.staff_c).exists()
    joined = client.post(first["Location"], follow=True)
    assert Membership.objects.get(practice=world.practice_a, user=world.staff_c).role == Role.ADMIN
    assert joined.context["current_practice"] == world.practice_a
    assert AuditEvent.objects.filter(practice=world.practice_a, action="team.invite_accepted",
                                     target="staff.c@example.test").exists()
    assert client.get(link).status_code == 404  # used


def test_a_new_person_accepts_by_choosing_a_password(client_of, client, world,
                                                     django_capture_on_commit_callbacks):
    admin = client_of(world.admin_ab, office="lakeside")
    _, _, link = _invite(admin, "New.Hire@Example.test", full_name="New Hire",
                         callbacks=django_capture_on_commit_callbacks)
    admin.logout()
    form_url = client.get(link)["Location"]
    weak = client.post(form_url, {"full_name": "New Hire", "new_password1": "short",
                                  "new_password2": "short"})
    assert "too short" in weak.content.decode()
    client.post(form_url, {"full_name": "New Hire", "new_password1": "first-password-here",
                           "new_password2": "first-password-here"})
    member = Membership.objects.get(practice=world.practice_a, user__email="new.hire@example.test")
    assert member.user.full_name == "New Hire"
    client.logout()
    signed_in = client.post(reverse("login"), {"username": "new.hire@example.test",
                                               "password": "first-password-here"})
    assert signed_in.status_code == 302 and "_auth_user_id" in client.session


def test_an_invitation_is_for_its_addressee_only(client_of, client, world,
                                                 django_capture_on_commit_callbacks):
    admin = client_of(world.admin_ab, office="lakeside")
    _, _, link = _invite(admin, "staff.c@example.test", callbacks=django_capture_on_commit_callbacks)
    admin.logout()
    client.force_login(world.admin_c)
    url = client.get(link)["Location"]
    assert "This invitation is for staff.c@example.test" in client.get(url).content.decode()
    assert client.post(url).status_code == 403
    assert not Membership.objects.filter(practice=world.practice_a,
                                         user__in=[world.staff_c, world.admin_c]).exists()


def test_inviting_again_replaces_the_link_and_revoking_ends_it(client_of, client, world,
                                                               django_capture_on_commit_callbacks):
    admin = client_of(world.admin_ab, office="lakeside")
    _, _, old = _invite(admin, "late@example.test", callbacks=django_capture_on_commit_callbacks)
    _, _, new = _invite(admin, "late@example.test", callbacks=django_capture_on_commit_callbacks)
    assert old != new and Invitation.objects.filter(email="late@example.test").count() == 1
    assert client.get(old).status_code == 404
    invitation = Invitation.objects.get(email="late@example.test")
    admin.post(reverse("team_invitation_revoke", args=[invitation.pk]))
    assert client.get(new).status_code == 404
    assert "no longer works" in client.get(new).content.decode()


def test_an_invitation_link_expires(client_of, client, world, django_capture_on_commit_callbacks):
    from datetime import timedelta

    import time_machine
    from django.utils import timezone

    admin = client_of(world.admin_ab, office="lakeside")
    _, _, link = _invite(admin, "slow@example.test", callbacks=django_capture_on_commit_callbacks)
    with time_machine.travel(timezone.now() + timedelta(days=4)):
        assert client.get(link).status_code == 404


def test_the_invite_email_task_runs_twice_and_sends_once(world):
    invitation = services.team_invite(practice=world.practice_a, email="once@example.test",
                                      role="staff", actor=world.admin_ab)
    team_invite_send(invitation.pk)
    team_invite_send(invitation.pk)
    assert len(mail.outbox) == 1


def test_another_offices_invitation_cannot_be_revoked(client_of, world):
    invitation = services.team_invite(practice=world.practice_c, email="x@example.test",
                                      role="staff", actor=world.admin_c)
    client = client_of(world.admin_ab, office="lakeside")
    assert client.post(reverse("team_invitation_revoke", args=[invitation.pk])).status_code == 404
    invitation.refresh_from_db()
    assert invitation.revoked_at is None


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


def test_a_member_who_never_chose_a_password_can_be_invited_again(client_of, client, world,
                                                                  django_capture_on_commit_callbacks):
    from tests.factories import MembershipFactory, UserFactory

    waiting = UserFactory(email="never.came@example.test")
    waiting.set_unusable_password()
    waiting.save()
    MembershipFactory(user=waiting, practice=world.practice_a)
    admin = client_of(world.admin_ab, office="lakeside")
    _, _, link = _invite(admin, "never.came@example.test", callbacks=django_capture_on_commit_callbacks)
    admin.logout()
    form_url = client.get(link)["Location"]
    client.post(form_url, {"full_name": "", "new_password1": "finally-a-password",
                           "new_password2": "finally-a-password"})
    waiting.refresh_from_db()
    assert waiting.check_password("finally-a-password")
    assert Membership.objects.filter(practice=world.practice_a, user=waiting).count() == 1
