"""What provider reports do to the outbox: Twilio status callbacks and inbound texts, ESP
tracking events. Each is applied once (WebhookReceipt) and appends a status event."""

import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from .channels.sms import PERMANENT_CODES
from .dispatch import retry_backoff
from .due import due_set
from .models import (
    Channel,
    MessagingSettings,
    Notification,
    NotificationEvent,
    OptOut,
    Status,
    WebhookReceipt,
)
from .services import opt_out_record, opt_out_remove

logger = logging.getLogger(__name__)

STOP_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPT OUT", "OPTOUT"}
START_WORDS = {"START", "UNSTOP"}
HELP_WORDS = {"HELP"}

# Provider reports may arrive out of order: a later report never moves a row back.
_RANK = {Status.SENDING: 1, Status.SENT: 2, Status.UNDELIVERABLE_RETRY: 3,
         Status.UNDELIVERABLE_PERMANENT: 3, Status.DELIVERY_ERROR: 3, Status.DELIVERED: 4}


def receipt_first_time(*, provider: str, event_id: str) -> bool:
    """True the first time a provider event is seen; False for a duplicate delivery."""
    try:
        with transaction.atomic():
            WebhookReceipt.objects.create(provider=provider, event_id=event_id[:200])
    except IntegrityError:
        return False
    return True


def _move(n: Notification, status: str, detail: str, *, error: str = "") -> bool:
    if _RANK.get(n.status, 99) > _RANK[status] or n.status == status or n.status not in _RANK:
        NotificationEvent.objects.create(notification=n, status=n.status,
                                         detail=f"{detail} (status kept)"[:500])
        return False
    fields = {"status": status, "updated_at": timezone.now(), "lease_expires_at": None}
    if error:
        fields["last_error"] = error[:500]
    if status == Status.UNDELIVERABLE_RETRY:
        if n.attempts >= settings.NOTIFICATIONS_MAX_ATTEMPTS:
            fields["status"] = status = Status.DELIVERY_ERROR
        else:
            # Not delivered and worth another try: it waits as a row for the dispatcher.
            fields["attempt_started_at"] = None
            fields["send_at"] = timezone.now() + retry_backoff(n.attempts)
    if Notification.objects.filter(pk=n.pk, status=n.status).update(**fields) and "send_at" in fields:
        due_set([(n.pk, fields["send_at"])])  # waits for its next attempt
    NotificationEvent.objects.create(notification=n, status=status, detail=detail[:500])
    return True


_TWILIO_STATUS = {
    # messages
    "sent": Status.SENT, "delivered": Status.DELIVERED, "undelivered": Status.UNDELIVERABLE_RETRY,
    "failed": Status.UNDELIVERABLE_RETRY,
    # calls: an answered call is as delivered as a call gets
    "completed": Status.DELIVERED, "busy": Status.UNDELIVERABLE_RETRY,
    "no-answer": Status.UNDELIVERABLE_RETRY, "canceled": Status.UNDELIVERABLE_RETRY,
}


@transaction.atomic
def twilio_status_record(*, params: dict, notification_id: str = "") -> str:
    sid = params.get("MessageSid") or params.get("CallSid") or ""
    reported = (params.get("MessageStatus") or params.get("CallStatus") or "").lower()
    if not sid or not reported:
        return "ignored: no sid or status"
    if not receipt_first_time(provider="twilio-status", event_id=f"{sid}:{reported}"):
        return "duplicate"
    qs = Notification.objects.select_for_update()
    n = None
    if notification_id.isdigit():
        n = qs.filter(pk=int(notification_id)).first()
        if n is not None and n.provider_message_id and n.provider_message_id != sid:
            n = None  # a callback for another attempt's message
    if n is None:
        n = qs.filter(provider_message_id=sid).first()
    if n is None:
        return "ignored: unknown message"
    if not n.provider_message_id:
        Notification.objects.filter(pk=n.pk).update(provider_message_id=sid)
    status = _TWILIO_STATUS.get(reported)
    if status is None:  # queued, accepted, sending, initiated, ringing, in-progress
        return f"ignored: {reported}"
    code = params.get("ErrorCode") or ""
    detail = f"Twilio: {reported}" + (f" (error {code})" if code else "")
    if code.isdigit() and int(code) in PERMANENT_CODES:
        status = Status.UNDELIVERABLE_PERMANENT
        if int(code) == 21610:
            opt_out_record(practice=n.practice, channel=n.channel, address=n.address,
                           source=OptOut.Source.PROVIDER)
    _move(n, status, detail, error=detail if code else "")
    return reported


def _inbound_practices(params: dict):
    to, service = params.get("To", ""), params.get("MessagingServiceSid", "")
    matched = MessagingSettings.objects.select_related("practice").filter(twilio_from_number=to)
    if service:
        matched = matched | MessagingSettings.objects.select_related("practice").filter(
            twilio_messaging_service_sid=service)
    practices = [s.practice for s in matched]
    if practices:
        return practices
    # A shared sender: every practice that has texted this number through it.
    from practices.models import Practice

    ids = (Notification.objects.filter(channel=Channel.SMS, address=params.get("From", ""))
           .values_list("practice_id", flat=True).distinct())
    return list(Practice.objects.filter(pk__in=list(ids)))


def keyword(body: str) -> str:
    return " ".join((body or "").split()).upper()


@transaction.atomic
def twilio_inbound_record(*, params: dict) -> str:
    """Apply an inbound text; return the one reply to send back ("" for none)."""
    sid = params.get("MessageSid") or params.get("SmsSid") or ""
    if not sid or not receipt_first_time(provider="twilio-inbound", event_id=sid):
        return ""
    word = keyword(params.get("Body", ""))
    sender = params.get("From", "")
    practices = _inbound_practices(params)
    if not practices:
        return ""
    names = " / ".join(p.name for p in practices)
    if word in STOP_WORDS:
        for practice in practices:
            opt_out_record(practice=practice, channel=Channel.SMS, address=sender,
                           source=OptOut.Source.STOP)
        return (f"You are unsubscribed from {names} texts. No more messages will be sent. "
                "Reply START to resubscribe.")
    if word in START_WORDS:
        for practice in practices:
            opt_out_remove(practice=practice, channel=Channel.SMS, address=sender)
        return f"You are resubscribed to {names} texts. Reply STOP to unsubscribe."
    if word in HELP_WORDS:
        practice = practices[0]
        phone = f" Call us at {practice.phone}." if practice.phone else ""
        return f"{practice.name}.{phone} Reply STOP to unsubscribe."
    return ""


_EMAIL_EVENTS = {
    "delivered": Status.DELIVERED,
    "bounced": Status.UNDELIVERABLE_PERMANENT,
    "rejected": Status.UNDELIVERABLE_PERMANENT,
}


@transaction.atomic
def email_tracking_record(*, esp_name: str, event) -> str:
    """One anymail tracking event (delivered, bounced, complained, rejected, ...)."""
    event_id = event.event_id or f"{event.message_id}:{event.event_type}:{event.recipient}"
    if not receipt_first_time(provider=f"anymail-{esp_name}", event_id=str(event_id)):
        return "duplicate"
    # Only the provider's id for the message we sent names it: ids echoed back in metadata are
    # whatever the poster wrote.
    n = None
    if event.message_id:
        n = Notification.objects.select_for_update().filter(
            channel=Channel.EMAIL, provider_message_id=str(event.message_id)).first()
    if n is None:
        return "ignored: unknown message"
    detail = f"{esp_name}: {event.event_type}" + (f" ({event.description})" if event.description else "")
    if event.event_type in ("bounced", "rejected", "complained", "unsubscribed"):
        source = {"complained": OptOut.Source.COMPLAINT,
                  "unsubscribed": OptOut.Source.UNSUBSCRIBE}.get(event.event_type, OptOut.Source.BOUNCE)
        # The address the message went to, never one the event names.
        opt_out_record(practice=n.practice, channel=Channel.EMAIL, address=n.address,
                       source=source)
    status = _EMAIL_EVENTS.get(event.event_type)
    if status is None:
        NotificationEvent.objects.create(notification=n, status=n.status, detail=detail[:500])
        return event.event_type
    _move(n, status, detail, error=detail if status != Status.DELIVERED else "")
    return event.event_type


def email_tracking_receiver(sender, event, esp_name, **kwargs):
    """anymail's tracking signal: one call into the service above."""
    email_tracking_record(esp_name=esp_name, event=event)
