"""Reads for practices, and the tenancy helpers: one access function per object type.

A view never fetches a practice-owned object by bare primary key; it calls the `*_get` helper for
the current practice, which answers 404 for another practice's object.
"""

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from .models import ApiKey, AuditEvent, Membership, Practice


def memberships_for_user(*, user) -> list[Membership]:
    if not user.is_authenticated or not user.is_active:
        return []
    return list(Membership.objects.filter(user=user).select_related("practice")
                .order_by("practice__name", "practice_id"))


def team_members(*, practice: Practice) -> QuerySet[Membership]:
    return (Membership.objects.filter(practice=practice).select_related("user")
            .order_by("user__email"))


def team_member_get(*, practice: Practice, pk) -> Membership:
    return get_object_or_404(Membership.objects.select_related("user"), practice=practice, pk=pk)


def api_keys(*, practice: Practice) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(practice=practice).select_related("created_by")


def api_key_get(*, practice: Practice, pk) -> ApiKey:
    return get_object_or_404(ApiKey, practice=practice, pk=pk)


def audit_events(*, practice: Practice) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(practice=practice).select_related("actor")
