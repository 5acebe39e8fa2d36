"""Writes for the outbox: the public API other apps use to send a message, and staff actions.

Other apps hand the engine a rendered message, a `Recipient` reference and a reason; the engine
knows nothing of statements, patients or payments.
"""

import logging
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from practices.services import audit_record

from .due import due_set
from .models import (
    CANCELLABLE_STATUSES,
    ERROR_STATUSES,
    Notification,
    NotificationDue,
    NotificationEvent,
    OptOut,
    ReasonCode,
    Status,
)
from .schedule_many import (
    Outgoing,
    notification_schedule_one,
    notifications_cancel_many,
    notifications_schedule_many,
)

logger = logging.getLogger(__name__)

__all__ = ["Outgoing", "Recipient", "notification_cancel", "notification_schedule",
           "notifications_cancel_many", "notifications_schedule_many"]


@dataclass(frozen=True)
class Recipient:
    kind: str  # "patient" or "user": what `id` refers to (the engine never imports those apps)
    id: int
    name: str = ""  # display name for the queue/history screens and the recipient filter
    time_zone: str = ""  # IANA name; "" means the practice's time zone
    consent: bool = True  # the caller's knowledge of the recipient's consent for this channel


def event_record(*, notification_id: int, status: str, detail: str = "", reason_code: str = "",
                 actor=None) -> NotificationEvent:
    return NotificationEvent.objects.create(
        notification_id=notification_id, status=status, reason_code=reason_code,
        detail=detail[:500], actor=actor if actor is not None and actor.pk else None)


def notification_schedule(*, practice, recipient: Recipient, channel: str, address: str, kind: str,
                          body: str, idempotency_key: str, subject: str = "", html_body: str = "",
                          send_at: datetime | None = None, reason: str = "",
                          template_name: str = "", template_version: str = "",
                          addon: str | None = None, tag: str = "") -> Notification:
    """Create the outbox row (or return the existing one for this idempotency_key).

    send_at None or in the past = immediate: enqueued to Celery when the caller's transaction
    commits. A future send_at waits as a row until the once-a-minute dispatcher claims it.
    `addon` names the Practice add-on flag the send needs; None means no add-on is needed.
    The set-based `notifications_schedule_many` with one row: the same checks and writes.
    """
    row = Outgoing(recipient_kind=recipient.kind, recipient_id=recipient.id, channel=channel,
                   address=address, kind=kind, body=body, idempotency_key=idempotency_key,
                   recipient_name=recipient.name, recipient_time_zone=recipient.time_zone,
                   consent=recipient.consent, subject=subject, html_body=html_body,
                   send_at=send_at, reason=reason, template_name=template_name,
                   template_version=template_version, addon=addon or "", tag=tag)
    return notification_schedule_one(practice=practice, row=row)


@transaction.atomic
def notification_cancel(*, notification, actor=None,
                        reason_code: str = ReasonCode.CANCELLED_BY_STAFF) -> Notification:
    """Stop a message that has not gone to a provider yet (or that failed).

    `cancelled_by_staff` makes it cancelled; another reason code (superseded, balance paid)
    makes it `will_not_send` with that reason. A message whose send has begun cannot be cancelled.
    """
    if reason_code not in ReasonCode.values:
        raise ValidationError({"reason_code": "unknown reason code"})
    status = Status.CANCELLED if reason_code == ReasonCode.CANCELLED_BY_STAFF else Status.WILL_NOT_SEND
    updated = Notification.objects.filter(pk=notification.pk, status__in=CANCELLABLE_STATUSES).update(
        status=status, reason_code=reason_code, lease_expires_at=None, updated_at=timezone.now())
    if not updated:
        # A claimed row whose provider call has not started can still be stopped.
        updated = Notification.objects.filter(
            pk=notification.pk, status=Status.SENDING, attempt_started_at__isnull=True).update(
            status=status, reason_code=reason_code, lease_expires_at=None,
            updated_at=timezone.now())
    notification.refresh_from_db()
    if not updated:
        if notification.status in (Status.CANCELLED, Status.WILL_NOT_SEND):
            return notification
        raise ValidationError(f"A message that is {notification.get_status_display().lower()} "
                              "cannot be cancelled.")
    NotificationDue.objects.filter(notification_id=notification.pk).delete()
    event_record(notification_id=notification.pk, status=status, reason_code=reason_code,
                 detail="cancelled" + (f" by {actor.email}" if actor else ""), actor=actor)
    if actor is not None:
        audit_record(practice=notification.practice, actor=actor, action="notification.cancelled",
                     target=f"notification {notification.pk}", reason_code=reason_code)
    return notification


@transaction.atomic
def notification_archive(*, notification, actor=None) -> Notification:
    Notification.objects.filter(pk=notification.pk).update(archived=True)
    notification.archived = True
    if actor is not None:
        audit_record(practice=notification.practice, actor=actor, action="notification.archived",
                     target=f"notification {notification.pk}")
    return notification


@transaction.atomic
def notification_retry(*, notification, actor=None) -> Notification:
    """Send a failed message again (staff decided, e.g. after checking a fate-unknown send)."""
    updated = Notification.objects.filter(pk=notification.pk, status__in=ERROR_STATUSES).update(
        status=Status.QUEUED, send_at=timezone.now(), attempt_started_at=None,
        lease_expires_at=None, updated_at=timezone.now())
    notification.refresh_from_db()
    if not updated:
        raise ValidationError("Only a message in an error status can be sent again.")
    due_set([(notification.pk, notification.send_at)])
    event_record(notification_id=notification.pk, status=Status.QUEUED,
                 detail="sent again by staff", actor=actor)
    if actor is not None:
        audit_record(practice=notification.practice, actor=actor, action="notification.retried",
                     target=f"notification {notification.pk}")
    from .dispatch import enqueue_on_commit

    enqueue_on_commit(notification.pk)
    return notification


def opt_out_record(*, practice, channel: str, address: str, source: str) -> bool:
    """Record that an address must not get messages on a channel. True if it is new."""
    address = address.strip()
    if not address:
        return False
    try:
        with transaction.atomic():
            OptOut.objects.create(practice=practice, channel=channel, address=address,
                                  source=source)
    except IntegrityError:
        return False
    return True


def opt_out_remove(*, practice, channel: str, address: str) -> bool:
    deleted, _ = OptOut.objects.filter(practice=practice, channel=channel,
                                       address=address.strip()).delete()
    return bool(deleted)


def notifications_bulk_action(*, practice, ids: list[int], action: str, actor) -> dict:
    """Bulk actions of the manage-errors screen: cancel, archive, cancel_opt_out."""
    done, refused = 0, 0
    rows = Notification.objects.filter(practice=practice, pk__in=ids)
    for notification in rows:
        try:
            if action == "archive":
                notification_archive(notification=notification, actor=actor)
            elif action == "cancel":
                notification_cancel(notification=notification, actor=actor)
            elif action == "cancel_opt_out":
                if notification.status != Status.UNDELIVERABLE_PERMANENT:
                    refused += 1
                    continue
                notification_cancel(notification=notification, actor=actor)
                opt_out_record(practice=practice, channel=notification.channel,
                               address=notification.address, source=OptOut.Source.STAFF)
            else:
                raise ValidationError({"action": "unknown action"})
            done += 1
        except ValidationError as exc:
            if "action" in getattr(exc, "error_dict", {}):
                raise
            refused += 1
    return {"done": done, "refused": refused}


@transaction.atomic
def messaging_settings_update(*, form, practice, actor) -> None:
    """Save a practice's messaging settings form (validated by the caller's form)."""
    settings_row = form.save(commit=False)
    settings_row.practice = practice
    settings_row.save()
    audit_record(practice=practice, actor=actor, action="notifications.settings_changed",
                 target="messaging settings", **{k: str(v) for k, v in form.cleaned_data.items()})
