"""The dev outbox: what the sandbox recorded, shown to the office; account emails to their
addressee alone (an invitation or a reset link is a way into someone's login)."""

import pytest
from django.urls import reverse

from notifications.models import SandboxMessage
from notifications.services import Recipient, notification_schedule
from notifications.tasks import notifications_deliver
from practices import services
from practices.tasks import team_invite_send


@pytest.fixture
def sandbox_mail(settings):
    settings.MAILERS = {"default": {"BACKEND": "notifications.sandbox.SandboxEmailBackend"}}


def test_account_emails_show_only_to_their_addressee(client_of, world, sandbox_mail):
    invitation = services.team_invite(practice=world.practice_a, email="staff.c@example.test",
                                      role="admin", actor=world.admin_ab)
    team_invite_send(invitation.pk)
    client_of(world.staff_a).post(reverse("password_reset"), {"email": "admin.ab@example.test"})
    patient_mail = notification_schedule(
        practice=world.practice_a, recipient=Recipient(kind="patient", id=1, name="Pat Doe"),
        channel="email", address="pat@example.test", kind="balance", subject="Your balance",
        body="You have a balance.", idempotency_key="dev-outbox-1")
    notifications_deliver([patient_mail.pk])
    invite = SandboxMessage.objects.get(to="staff.c@example.test")
    reset = SandboxMessage.objects.get(to="admin.ab@example.test")

    staff = client_of(world.staff_a, office="lakeside")
    listing = staff.get(reverse("dev_outbox")).content.decode()
    assert "pat@example.test" in listing  # the office's own outbox
    assert "staff.c@example.test" not in listing and "admin.ab@example.test" not in listing
    for message in (invite, reset):
        assert staff.get(reverse("dev_outbox_message", args=[message.pk])).status_code == 404

    # The inviting admin does not see the link either; its addressee does.
    admin = client_of(world.admin_ab, office="lakeside")
    assert admin.get(reverse("dev_outbox_message", args=[invite.pk])).status_code == 404
    assert admin.get(reverse("dev_outbox_message", args=[reset.pk])).status_code == 200
    invitee = client_of(world.staff_c)
    page = invitee.get(reverse("dev_outbox_message", args=[invite.pk]))
    assert page.status_code == 200 and "/invites/" in page.content.decode()
