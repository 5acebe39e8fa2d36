"""Reads for practices, and the tenancy helpers: one access function per object type.

A view never fetches a practice-owned object by bare primary key; it calls the `*_get` helper for
the current practice, which answers 404 for another practice's object.
"""

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from .models import ApiKey, AuditEvent, Invitation, Membership, Practice, Role
from .tokens import token_digest


def memberships_for_user(*, user) -> list[Membership]:
    if not user.is_authenticated or not user.is_active:
        return []
    return list(Membership.objects.filter(user=user).select_related("practice")
                .order_by("practice__name", "practice_id"))


def team_members(*, practice: Practice) -> QuerySet[Membership]:
    return (Membership.objects.filter(practice=practice).select_related("user")
            .order_by("user__email"))


def team_admins(*, practice: Practice) -> list:
    """The office's active admins: who can change its settings and add-ons."""
    return [m.user for m in team_members(practice=practice).filter(role=Role.ADMIN,
                                                                   user__is_active=True)]


def team_member_get(*, practice: Practice, pk) -> Membership:
    return get_object_or_404(Membership.objects.select_related("user"), practice=practice, pk=pk)


def api_keys(*, practice: Practice) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(practice=practice).select_related("created_by")


def api_key_get(*, practice: Practice, pk) -> ApiKey:
    return get_object_or_404(ApiKey, practice=practice, pk=pk)


def audit_events(*, practice: Practice) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(practice=practice).select_related("actor")


def invitations_pending(*, practice: Practice) -> QuerySet[Invitation]:
    """Invitations not yet accepted or revoked (expired ones too, so an admin can send again)."""
    return (Invitation.objects.filter(practice=practice, accepted_at=None, revoked_at=None)
            .select_related("invited_by").order_by("email"))


def invitation_get(*, practice: Practice, pk) -> Invitation:
    return get_object_or_404(Invitation, practice=practice, pk=pk)


def invitation_by_token(*, token: str) -> Invitation | None:
    """The open invitation a link's token names, or None (unknown, used, revoked, expired)."""
    if not token or len(token) > 100:
        return None
    return (Invitation.objects.select_related("practice")
            .filter(token_hash=token_digest(token), accepted_at=None, revoked_at=None,
                    expires_at__gt=timezone.now()).first())


def login_for_email(*, email: str):
    """The login an address can sign in with, or None (no account, or one never activated)."""
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(email__iexact=email).first()
    return user if user is not None and user.has_usable_password() else None
