"""Account emails to people (invitations). Patient-facing messages go through the outbox."""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse

from config.plain_text import render_plain_text

from .models import Invitation
from .services import INVITATION_LIFETIME, invitation_token_issue


def team_invite_send(*, invitation_id: int) -> bool:
    """Email an invitation's link, once: its token is made here, so it never travels through
    the broker, and a second run finds the invitation sent and does nothing."""
    with transaction.atomic():
        invitation = (Invitation.objects.select_for_update()
                      .filter(pk=invitation_id, sent_at=None, accepted_at=None, revoked_at=None)
                      .first())
        if invitation is None:
            return False  # sent already, accepted, revoked, or replaced by a newer invitation
        token = invitation_token_issue(invitation=invitation)
        practice = invitation.practice
        context = {"practice": practice, "invitation": invitation,
                   "inviter": invitation.invited_by, "role": invitation.get_role_display(),
                   "days": INVITATION_LIFETIME.days,
                   "link": settings.PUBLIC_BASE_URL + reverse("invitation_open",
                                                              kwargs={"token": token})}
        message = EmailMultiAlternatives(
            subject=render_plain_text("emails/team-invite-subject.txt", context).strip(),
            body=render_plain_text("emails/team-invite-body.txt", context), to=[invitation.email])
        message.attach_alternative(render_to_string("emails/team-invite-body.html", context),
                                   "text/html")
        message.metadata = {"practice": practice.slug, "kind": "team_invite"}
        message.send()
    return True

