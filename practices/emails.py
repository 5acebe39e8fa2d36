"""Account emails to team members (invites). Patient-facing messages go through the outbox."""

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from .models import Membership


def team_invite_send(*, membership_id: int) -> bool:
    membership = (Membership.objects.select_related("user", "practice")
                  .filter(pk=membership_id).first())
    if membership is None or membership.user.has_usable_password():
        return False  # removed since, or the person has set a password already: nothing to do
    user = membership.user
    link = settings.PUBLIC_BASE_URL + reverse("password_reset_confirm", kwargs={
        "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
        "token": default_token_generator.make_token(user),
    })
    context = {"practice": membership.practice, "user": user, "link": link,
               "role": membership.get_role_display()}
    subject = render_to_string("emails/team-invite-subject.txt", context).strip()
    message = EmailMultiAlternatives(
        subject=subject, body=render_to_string("emails/team-invite-body.txt", context),
        to=[user.email])
    message.attach_alternative(render_to_string("emails/team-invite-body.html", context),
                               "text/html")
    message.metadata = {"practice": membership.practice.slug, "kind": "team_invite"}
    message.send()
    return True
