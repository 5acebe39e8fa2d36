"""Reads for the current practice: batches, statements, profiles, a guarantor's statements."""

from datetime import datetime

from django.db.models import Count, QuerySet
from django.shortcuts import get_object_or_404

from notifications.models import Notification, Status
from notifications.selectors import Filters, status_counts
from patients.models import IS_GUARANTOR, Patient

from .models import (
    BALANCE_KIND,
    CadenceStep,
    OnDemandMessage,
    Statement,
    StatementBatch,
    StatementProfile,
    StatementUpload,
)

PAGE_SIZE = 50


def batch_get_by_batch_id(*, practice, batch_id: str) -> StatementBatch | None:
    return (StatementBatch.objects.select_related("profile")
            .filter(practice=practice, batch_id=batch_id).first())


def batch_get(*, practice, pk) -> StatementBatch:
    return get_object_or_404(StatementBatch.objects.select_related("profile"), practice=practice, pk=pk)


def batch_notification_counts(*, batch: StatementBatch) -> dict[str, int]:
    """The batch's messages by current status."""
    rows = (Notification.objects.filter(practice_id=batch.practice_id, tag=batch.tag).order_by()
            .values_list("status").annotate(n=Count("id")))
    return dict(rows)


def batch_status_counts(*, batch: StatementBatch) -> list[dict]:
    counts = batch_notification_counts(batch=batch)
    return [{"status": value, "label": label, "count": counts[value]}
            for value, label in Status.choices if counts.get(value)]


def batches_page(*, practice, before: int | None = None, since: datetime | None = None,
                 size: int = PAGE_SIZE) -> tuple[list, int | None]:
    """Newest first, keyset by id: (rows, the id to continue before, or None); only those
    received since `since` when given."""
    qs = StatementBatch.objects.filter(practice=practice).select_related("profile").defer("rejected")
    if since is not None:
        qs = qs.filter(received_at__gte=since)
    if before:
        qs = qs.filter(pk__lt=before)
    rows = list(qs.order_by("-pk")[:size + 1])
    return rows[:size], rows[size - 1].pk if len(rows) > size else None


def batch_statements_page(*, batch: StatementBatch, after: int | None = None,
                          size: int = PAGE_SIZE) -> tuple[list, int | None]:
    """A batch's statements in id order, keyset by id, each with its guarantor's name."""
    qs = Statement.objects.filter(batch=batch).select_related("guarantor")
    if after:
        qs = qs.filter(pk__gt=after)
    rows = list(qs.order_by("pk")[:size + 1])
    return rows[:size], rows[size - 1].pk if len(rows) > size else None


def balance_notification_counts(*, practice) -> list[dict]:
    """Count and share of each status among the practice's balance notifications (the outbox's
    counters: the same cost at a million messages as at a thousand)."""
    counts = status_counts(practice=practice, view="history", filters=Filters(kind=BALANCE_KIND))
    return [c for c in counts if c["status"]]


def profiles(*, practice) -> QuerySet[StatementProfile]:
    return (StatementProfile.objects.filter(practice=practice).select_related("approved_version")
            .annotate(step_count=Count("steps")).order_by("-is_default", "name", "pk"))


def profile_get(*, practice, pk) -> StatementProfile:
    return get_object_or_404(StatementProfile.objects.select_related("approved_version",
                                                                     "approved_version__approved_by"),
                             practice=practice, pk=pk)


def profile_steps(*, profile: StatementProfile) -> QuerySet[CadenceStep]:
    return profile.steps.select_related("template").order_by("level", "anchor", "offset_days", "pk")


def step_get(*, profile: StatementProfile, pk) -> CadenceStep:
    return get_object_or_404(CadenceStep.objects.select_related("template"), profile=profile, pk=pk)


def guarantor_statements(*, practice, guarantor_id: int, limit: int = 12) -> list[Statement]:
    """The guarantor's latest statements, newest first, each with its batch."""
    return list(Statement.objects.filter(practice=practice, guarantor_id=guarantor_id)
                .select_related("batch", "batch__profile").order_by("-pk")[:limit])


def statement_messages(*, statements: list[Statement]) -> dict[int, list[Notification]]:
    """Statement id -> the messages it queued (looked up by their idempotency keys)."""
    keys = {key: s.pk for s in statements for key in s.keys}
    found: dict[int, list[Notification]] = {s.pk: [] for s in statements}
    if keys:
        for n in (Notification.objects.filter(idempotency_key__in=list(keys))
                  .only("id", "channel", "status", "reason_code", "send_at", "sent_at", "template_name",
                        "template_version", "idempotency_key", "created_at").order_by("send_at", "pk")):
            found[keys[n.idempotency_key]].append(n)
    return found


def notification_tag_label(practice, tag: str) -> str | None:
    """settings.NOTIFICATIONS_TAG_LABELS: a statements tag as the screens name it."""
    parts = tag.split(":")
    if len(parts) < 4 or parts[:2] != ["statements", "profile"] or not parts[2].isdigit():
        return None
    profile = StatementProfile.objects.filter(practice=practice, pk=int(parts[2])).first()
    if profile is None:
        return None
    if len(parts) == 5 and parts[3] == "batch" and parts[4].isdigit():
        batch = StatementBatch.objects.filter(practice=practice, pk=int(parts[4])).first()
        if batch is not None:
            return f"the messages of batch {batch.batch_id} ({profile.name})"
    if parts[3:] == [""]:
        return f"the messages of profile {profile.name}"
    return None


def statement_uploads(*, practice) -> QuerySet[StatementUpload]:
    return StatementUpload.objects.filter(practice=practice).defer("errors", "rejected_rows", "preview")


def statement_upload_get(*, practice, pk) -> StatementUpload:
    return get_object_or_404(StatementUpload.objects.select_related("profile", "received_batch"),
                             practice=practice, pk=pk)


def guarantor_by_external_id(*, practice, external_id: str):
    """The practice's guarantor with this PMS id, or None."""
    return (Patient.objects.select_related("balance").filter(IS_GUARANTOR)
            .filter(practice=practice, external_id=external_id.strip()[:64]).first())


def guarantor_on_demand(*, practice, guarantor_id: int, limit: int = 10) -> list[tuple]:
    """The guarantor's latest on-demand messages, newest first: (OnDemandMessage, its outbox row)."""
    rows = list(OnDemandMessage.objects.filter(practice=practice, guarantor_id=guarantor_id)
                .select_related("recipient", "sent_by").order_by("-pk")[:limit])
    sent = {n.idempotency_key: n for n in Notification.objects.filter(
        practice=practice, idempotency_key__in=[r.notification_key for r in rows]).only(
        "id", "channel", "status", "reason_code", "send_at", "template_name", "template_version",
        "idempotency_key")}
    return [(r, sent.get(r.notification_key)) for r in rows]
