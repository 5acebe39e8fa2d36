"""The dashboard's statement items: statements batched this week, and (admins) profiles whose
proof waits for approval. See practices/dashboard.py."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Sum
from django.db.models.functions import Coalesce
from django.urls import reverse

from practices.dashboard import WorkItem, office_week_start

from .models import StatementBatch, StatementProfile
from .profiles import profile_has_changes


@dataclass(frozen=True)
class Batched:
    batches: int
    statements: int


def batched_since(*, practice, since: datetime) -> Batched:
    """Batches received since `since` and the statements they accepted (the batches' index)."""
    row = StatementBatch.objects.filter(practice=practice, received_at__gte=since).aggregate(
        batches=Count("id"), statements=Coalesce(Sum("accepted"), 0))
    return Batched(**row)


def proofs_waiting(*, practice) -> list[StatementProfile]:
    """Active profiles whose steps or templates changed since their approved proof (or that
    were never approved): what they would send is not what sends."""
    profiles = (StatementProfile.objects.filter(practice=practice, active=True)
                .select_related("approved_version").order_by("-is_default", "name", "pk"))
    return [profile for profile in profiles if profile_has_changes(profile)]


def worklist(*, practice, membership, now: datetime) -> list[WorkItem]:
    week = office_week_start(now, practice.tz)
    batched = batched_since(practice=practice, since=week)
    items = [WorkItem(
        "activity", 30, "statements-week", "Statements batched this week",
        f"{reverse('statements')}?since={week.date().isoformat()}", count=batched.statements,
        note=f"in {batched.batches} batch{'es' if batched.batches != 1 else ''} since Monday")]
    if membership.is_admin and practice.addon_balance_notifications:
        waiting = proofs_waiting(practice=practice)
        if waiting:
            url = (reverse("statement_profile", args=[waiting[0].pk]) if len(waiting) == 1
                   else reverse("statement_profiles"))
            items.append(WorkItem("setup", 10, "setup-proofs", "Statement profiles waiting for approval", url,
                                  count=len(waiting), note=", ".join(p.name for p in waiting)))
    return items
