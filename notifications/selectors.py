"""Reads for the current practice: the outbox screens and the dev outbox."""

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import connection
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils.module_loading import import_string

from config.keyset import KeysetPage, keyset_page

from .counts import counted
from .models import (
    ERROR_STATUSES,
    QUEUE_STATUSES,
    Notification,
    NotificationRecipient,
    RecipientKind,
    SandboxMessage,
    Status,
)

PAGE_SIZE = 50
# The columns a list row shows: the body and HTML stay in the table until a row is opened.
LIST_FIELDS = ("id", "created_at", "send_at", "channel", "kind", "status", "reason_code",
               "recipient_name", "recipient_kind", "recipient_id", "address", "attempts",
               "last_error", "archived")


def sandbox_messages(*, practice, user_email: str) -> QuerySet[SandboxMessage]:
    """The current office's outbox as the sandbox recorded it, and whatever was sent to the
    signed-in user. Mail sent outside the outbox (invitations, password resets: ways into a
    login) shows to its addressee alone, whichever office it names."""
    return SandboxMessage.objects.filter(
        Q(practice=practice, metadata__has_key="notification") | Q(to__iexact=user_email))


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


# A search term that more people than this match is searched in the notifications themselves:
# its matches are common, so the newest page of them is found by reading the newest rows.
RECIPIENT_MATCH_LIMIT = 500


_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def _as_key(term: str) -> str:
    """A search term spelt as the keys are: upper case, as the database's upper() makes it
    (SQLite's changes ASCII letters only)."""
    return term.translate(_ASCII_UPPER) if connection.vendor == "sqlite" else term.upper()


def _recipient_filter(*, practice, term: str) -> Q:
    """The recipient filter: `#id` is a recipient's id; other terms match a name one of whose
    words starts with the term, or an address equal to it, in any case ("garc" finds Maria
    Garcia, "maria g" too; "arcia" does not).

    The people who match are found first by their keys (NotificationRecipient: an index range
    per term), so that their messages are read by the recipient index instead of searching the
    whole history.
    """
    term = " ".join(term.split())
    if term.startswith("#") and term[1:].isdigit():
        return Q(recipient_kind__in=RecipientKind.values, recipient_id=int(term[1:]))
    wanted = (Q(recipient_name__istartswith=term) | Q(recipient_name__icontains=f" {term}")
              | Q(address__iexact=term))
    key = _as_key(term)
    found = list(NotificationRecipient.objects.filter(practice=practice)
                 .filter(Q(key__startswith=f"N {key}") | Q(key=f"A {key}"))
                 .values_list("recipient_kind", "recipient_id")[:2 * RECIPIENT_MATCH_LIMIT + 1])
    people: dict[str, set] = {}
    for kind, recipient_id in found:
        people.setdefault(kind, set()).add(recipient_id)
    if len(found) > 2 * RECIPIENT_MATCH_LIMIT or sum(map(len, people.values())) > RECIPIENT_MATCH_LIMIT:
        return wanted
    whose = Q(pk__in=[])
    for kind, ids in people.items():
        whose |= Q(recipient_kind=kind, recipient_id__in=sorted(ids))
    return whose & wanted


def _matching(*, practice, view: str, filters: Filters) -> dict:
    """The lookups of the view and the filters that the counters can answer too."""
    where = dict(VIEWS[view])
    for name in ("kind", "channel", "status"):
        if getattr(filters, name):
            where[name] = getattr(filters, name)
    return where


def _resolved_by_a_later_send():
    """An error row whose recipient got a later message on the same channel (sent or
    delivered): the contact details were corrected, so it leaves Manage errors by itself."""
    # A message created later was sent later still: saying so (sent_at, the recipient index's
    # last column) makes each check an index range over the person's later sends only.
    return Exists(Notification.objects.filter(
        practice_id=OuterRef("practice_id"), recipient_kind=OuterRef("recipient_kind"),
        recipient_id=OuterRef("recipient_id"), channel=OuterRef("channel"),
        status__in=[Status.SENT, Status.DELIVERED], created_at__gt=OuterRef("created_at"),
        sent_at__gt=OuterRef("created_at")))


def notification_list(*, practice, view: str, filters: Filters) -> QuerySet[Notification]:
    qs = Notification.objects.filter(practice=practice, **_matching(practice=practice, view=view,
                                                                     filters=filters))
    if view == "errors":
        qs = qs.exclude(_resolved_by_a_later_send())
    if filters.tag:
        prefix = filters.tag.endswith(":")
        qs = qs.filter(tag__startswith=filters.tag) if prefix else qs.filter(tag=filters.tag)
    if filters.date_from:
        qs = qs.filter(created_at__gte=filters.date_from)
    if filters.date_to:
        qs = qs.filter(created_at__lt=filters.date_to)
    if filters.recipient.strip():
        qs = qs.filter(_recipient_filter(practice=practice, term=filters.recipient))
    return qs


def notification_page(qs: QuerySet[Notification], *, after: str = "") -> KeysetPage:
    """Newest first, 50 at a time, continuing after a (created_at, id) cursor."""
    return keyset_page(qs.only(*LIST_FIELDS), after=after, size=PAGE_SIZE)


def _by_status(qs: QuerySet[Notification]) -> Counter:
    return Counter(dict(qs.order_by().values_list("status").annotate(n=Count("id"))))


def status_counts(*, practice, view: str, filters: Filters,
                  rows: QuerySet[Notification] | None = None) -> list[dict]:
    """Count and share of each status among the view's notifications that match the filters, in
    the order of Status.

    Read from the counters (counts.py) for every filter they know: view, kind, channel, status,
    dates. A recipient or tag filter, and the errors view (whose rows resolved by a later send
    are left out), are counted from the rows themselves (`rows`: the list's own queryset, when
    the caller has it already): those sets are small or served by an index.
    """
    if filters.recipient.strip() or filters.tag or view == "errors":
        if rows is None:
            rows = notification_list(practice=practice, view=view, filters=filters)
        counts = _by_status(rows)
    else:
        where = _matching(practice=practice, view=view, filters=filters)
        exact = Filters(**{**filters.__dict__, "date_from": None, "date_to": None})

        def count_rows(start, end):
            return _by_status(notification_list(practice=practice, view=view, filters=exact)
                              .filter(created_at__gte=start, created_at__lt=end))

        counts = counted(practice_id=practice.pk, where=where, start=filters.date_from,
                         end=filters.date_to, exact=count_rows)
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
    for path in settings.NOTIFICATIONS_TAG_LABELS:
        label = import_string(path)(practice, tag)
        if label:
            return label
    return tag
