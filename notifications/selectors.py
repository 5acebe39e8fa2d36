"""Reads for the current practice: the outbox screens and the dev outbox."""

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils.module_loading import import_string

from .models import ERROR_STATUSES, QUEUE_STATUSES, Notification, SandboxMessage, Status

PAGE_SIZE = 50
# The columns a list row shows: the body and HTML stay in the table until a row is opened.
LIST_FIELDS = ("id", "created_at", "send_at", "channel", "kind", "status", "reason_code",
               "recipient_name", "recipient_kind", "recipient_id", "address", "attempts",
               "last_error", "archived")


def sandbox_messages(*, practice, user_email: str) -> QuerySet[SandboxMessage]:
    """The current office's recorded messages, and account emails sent to the signed-in user."""
    return SandboxMessage.objects.filter(
        Q(practice=practice) | Q(practice__isnull=True, to__iexact=user_email))


def sandbox_message_get(*, practice, user_email: str, pk) -> SandboxMessage:
    return get_object_or_404(sandbox_messages(practice=practice, user_email=user_email), pk=pk)


def notification_get(*, practice, pk) -> Notification:
    return get_object_or_404(Notification, practice=practice, pk=pk)


def notification_events(*, notification):
    return notification.events.select_related("actor").order_by("created_at", "pk")


@dataclass
class Filters:
    kind: str = ""
    channel: str = ""
    status: str = ""
    date_from: datetime | None = None
    date_to: datetime | None = None
    recipient: str = ""
    tag: str = ""  # equal, or a leading part ending in ":" (all of a profile's batches)


VIEWS = {
    "queue": {"status__in": QUEUE_STATUSES},
    "history": {},
    "errors": {"status__in": ERROR_STATUSES, "archived": False},
}


def _resolved_by_a_later_send():
    """An error row whose recipient got a later message on the same channel (sent or
    delivered): the contact details were corrected, so it leaves Manage errors by itself."""
    return Exists(Notification.objects.filter(
        practice_id=OuterRef("practice_id"), recipient_kind=OuterRef("recipient_kind"),
        recipient_id=OuterRef("recipient_id"), channel=OuterRef("channel"),
        status__in=[Status.SENT, Status.DELIVERED], created_at__gt=OuterRef("created_at")))


def notification_list(*, practice, view: str, filters: Filters) -> QuerySet[Notification]:
    qs = Notification.objects.filter(practice=practice, **VIEWS[view])
    if view == "errors":
        qs = qs.exclude(_resolved_by_a_later_send())
    if filters.tag:
        prefix = filters.tag.endswith(":")
        qs = qs.filter(tag__startswith=filters.tag) if prefix else qs.filter(tag=filters.tag)
    if filters.kind:
        qs = qs.filter(kind=filters.kind)
    if filters.channel:
        qs = qs.filter(channel=filters.channel)
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.date_from:
        qs = qs.filter(created_at__gte=filters.date_from)
    if filters.date_to:
        qs = qs.filter(created_at__lt=filters.date_to)
    if filters.recipient:
        term = filters.recipient.strip()
        if term.startswith("#") and term[1:].isdigit():
            qs = qs.filter(recipient_id=int(term[1:]))
        else:
            qs = qs.filter(Q(recipient_name__icontains=term) | Q(address__iexact=term))
    return qs


@dataclass
class KeysetPage:
    rows: list
    next_cursor: str
    has_previous: bool


def _cursor(row) -> str:
    return f"{row.created_at.isoformat()}_{row.pk}"


def parse_cursor(value: str) -> tuple[datetime, int] | None:
    try:
        stamp, pk = value.rsplit("_", 1)
        return datetime.fromisoformat(stamp), int(pk)
    except (ValueError, AttributeError):
        return None


def notification_page(qs: QuerySet[Notification], *, after: str = "") -> KeysetPage:
    """Newest first, 50 at a time, continuing after a (created_at, id) cursor: the cost of a
    page does not grow with how far back it is."""
    position = parse_cursor(after) if after else None
    if position:
        stamp, pk = position
        qs = qs.filter(Q(created_at__lt=stamp) | Q(created_at=stamp, pk__lt=pk))
    rows = list(qs.order_by("-created_at", "-pk").only(*LIST_FIELDS)[:PAGE_SIZE + 1])
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return KeysetPage(rows=rows, next_cursor=_cursor(rows[-1]) if more else "",
                      has_previous=bool(position))


def status_counts(qs: QuerySet[Notification]) -> list[dict]:
    """Count and share of each status in the filtered set, in the order of Status."""
    counts = dict(qs.order_by().values_list("status").annotate(n=Count("id")))
    total = sum(counts.values())
    return [{"status": value, "label": label, "count": counts.get(value, 0),
             "percent": round(100 * counts.get(value, 0) / total, 1) if total else 0.0}
            for value, label in Status.choices if counts.get(value)] + (
        [{"status": "", "label": "Total", "count": total, "percent": 100.0}] if total else [])


def notifications_for_recipient(*, practice, kind: str, recipient_id: int, limit: int = 20):
    """The latest messages to one recipient (a patient's or guarantor's history panel)."""
    return (Notification.objects.filter(practice=practice, recipient_kind=kind,
                                         recipient_id=recipient_id)
            .only(*LIST_FIELDS).order_by("-created_at", "-pk")[:limit])
def messaging_settings_get(*, practice):
    """The practice's messaging settings, or unsaved defaults."""
    from .models import MessagingSettings

    return (MessagingSettings.objects.filter(practice=practice).first()
            or MessagingSettings(practice=practice))


def tag_label(*, practice, tag: str) -> str:
    """What a tag filter shows as: the first answer of settings.NOTIFICATIONS_TAG_LABELS
    (`label(practice, tag)`, from the app that tagged the messages), else the tag itself."""
    for path in getattr(settings, "NOTIFICATIONS_TAG_LABELS", []):
        label = import_string(path)(practice, tag)
        if label:
            return label
    return tag
