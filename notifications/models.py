from django.conf import settings
from django.db import models
from django.db.models import Q

from practices.models import Practice


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"
    VOICE = "voice", "Voice"


class Status(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    UNDELIVERABLE_RETRY = "undeliverable_retry", "Undeliverable – can retry"  # noqa: RUF001
    UNDELIVERABLE_PERMANENT = "undeliverable_permanent", "Undeliverable – permanent"  # noqa: RUF001
    DELIVERY_ERROR = "delivery_error", "Delivery error"
    QUEUEING_ERROR = "queueing_error", "Queueing error"
    WILL_NOT_SEND = "will_not_send", "Will not send"
    CANCELLED = "cancelled", "Cancelled"


# Rows in these statuses are waiting for the dispatcher: due ones are claimed and sent.
WAITING_STATUSES = (Status.QUEUED, Status.QUEUEING_ERROR, Status.UNDELIVERABLE_RETRY)
# The queue screen: everything not yet handed to a provider.
QUEUE_STATUSES = (*WAITING_STATUSES, Status.SENDING)
ERROR_STATUSES = (Status.UNDELIVERABLE_RETRY, Status.UNDELIVERABLE_PERMANENT,
                  Status.DELIVERY_ERROR, Status.QUEUEING_ERROR)
FINAL_STATUSES = (Status.SENT, Status.DELIVERED, Status.UNDELIVERABLE_PERMANENT,
                  Status.DELIVERY_ERROR, Status.WILL_NOT_SEND, Status.CANCELLED)


class ReasonCode(models.TextChoices):
    OPTED_OUT = "opted_out", "Opted out"
    NO_CONSENT = "no_consent", "No consent"
    NO_ADDRESS = "no_address", "No address"
    QUIET_HOURS_EXPIRED = "quiet_hours_expired", "Quiet hours expired"
    FREQUENCY_CAP = "frequency_cap", "Frequency cap"
    ADDON_OFF = "addon_off", "Add-on off"
    SUPERSEDED = "superseded", "Superseded"
    BALANCE_PAID = "balance_paid", "Balance paid"
    CANCELLED_BY_STAFF = "cancelled_by_staff", "Cancelled by staff"


class RecipientKind(models.TextChoices):
    PATIENT = "patient", "Patient"
    USER = "user", "Team member"


class Notification(models.Model):
    """One message to one recipient over one channel: the outbox row.

    The engine knows the recipient only by reference (kind + id) so it imports neither patients
    nor users; callers hand it the rendered message.
    """

    # No index of its own: notif_history_idx and notif_status_idx lead with the practice. Every
    # index is written again by each status change (claim, take, outcome), so none is spare.
    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+",
                                 db_index=False)
    recipient_kind = models.CharField(max_length=16, choices=RecipientKind.choices)
    recipient_id = models.BigIntegerField()
    recipient_name = models.CharField(max_length=200, blank=True)
    recipient_time_zone = models.CharField(max_length=64, blank=True)
    consent = models.BooleanField(default=True)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    address = models.CharField(max_length=254, blank=True)
    kind = models.CharField(max_length=40)
    reason = models.CharField(max_length=200, blank=True)
    addon = models.CharField(max_length=40, blank=True)
    subject = models.CharField(max_length=500, blank=True)
    body = models.TextField(blank=True)
    html_body = models.TextField(blank=True)
    template_name = models.CharField(max_length=100, blank=True)
    template_version = models.CharField(max_length=40, blank=True)
    # Unique by the constraint in Meta (a `unique=True` CharField also gets a second,
    # LIKE-pattern index on PostgreSQL that nothing here uses).
    idempotency_key = models.CharField(max_length=200)

    send_at = models.DateTimeField()  # when the next attempt is due (moves for waits, retries)
    first_due_at = models.DateTimeField(null=True, blank=True)  # when it was first due
    status = models.CharField(max_length=32, choices=Status.choices, default=Status.QUEUED)
    reason_code = models.CharField(max_length=32, choices=ReasonCode.choices, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # The send lease: while `status` is sending, the row belongs to whoever claimed it until
    # `lease_expires_at`. `attempt_started_at` is set (by a conditional UPDATE) just before the
    # provider call; the reclaim rule in dispatch.py depends on the difference.
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    attempt_started_at = models.DateTimeField(null=True, blank=True)
    sender = models.CharField(max_length=80, blank=True)
    provider_message_id = models.CharField(max_length=200, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    archived = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            # Finding due work costs the same with ten million history rows as with ten
            # thousand: only waiting rows are in this index.
            models.Index(fields=["send_at"], name="notif_due_idx",
                         condition=Q(status__in=["queued", "queueing_error", "undeliverable_retry"])),
            models.Index(fields=["lease_expires_at"], name="notif_lease_idx",
                         condition=Q(status="sending")),
            # History and queue screens: newest first per practice (keyset on created_at, id).
            models.Index(fields=["practice", "-created_at", "-id"], name="notif_history_idx"),
            models.Index(fields=["practice", "status", "-created_at", "-id"],
                         name="notif_status_idx"),
            # A patient's history panel: the latest messages to one recipient. Without it the
            # guarantor's account read every row of the practice (0.3 s at 1,000,000).
            models.Index(fields=["practice", "recipient_kind", "recipient_id", "-created_at", "-id"],
                         name="notif_recipient_idx"),
            # Frequency cap: SMS/voice sends per recipient in a window.
            models.Index(fields=["practice", "recipient_kind", "recipient_id", "sent_at"],
                         name="notif_recipient_sent_idx",
                         condition=Q(channel__in=["sms", "voice"], sent_at__isnull=False)),
            models.Index(fields=["provider_message_id"], name="notif_provider_id_idx",
                         condition=~Q(provider_message_id="")),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(channel__in=["email", "sms", "voice"]),
                                   name="notif_channel_valid"),
            models.UniqueConstraint(fields=["idempotency_key"], name="notif_idempotency_key_unique"),
        ]

    def __str__(self):
        return f"{self.channel} {self.kind} #{self.pk}"

    @property
    def is_waiting(self) -> bool:
        return self.status in WAITING_STATUSES

    @property
    def can_cancel(self) -> bool:
        return self.status in WAITING_STATUSES or self.status in (
            Status.UNDELIVERABLE_PERMANENT, Status.DELIVERY_ERROR)


class NotificationDue(models.Model):
    """The due list: one narrow row per notification waiting for the dispatcher.

    A row exists while its notification waits (queued, queueing error, can retry) with
    `due_at` = its `send_at`. The dispatcher's claim moves `due_at` a claim lease ahead here,
    touching two small indexes instead of the wide notification row and all of its indexes;
    the task that gets the ids claims the notification rows themselves and clears their
    entries. An entry whose notification no longer waits is dropped by the next task that gets
    it. See notifications/dispatch.py.
    """

    notification = models.OneToOneField(Notification, primary_key=True, on_delete=models.CASCADE,
                                        related_name="+")
    due_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["due_at"], name="notif_due_at_idx")]

    def __str__(self):
        return f"notification {self.notification_id} due {self.due_at:%Y-%m-%d %H:%M:%S}"


class NotificationEvent(models.Model):
    """One status change of a notification: the history screen's status history."""

    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="events")
    status = models.CharField(max_length=32, choices=Status.choices)
    reason_code = models.CharField(max_length=32, choices=ReasonCode.choices, blank=True)
    detail = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["notification", "created_at"], name="notif_event_idx")]

    def __str__(self):
        return f"{self.status} at {self.created_at:%Y-%m-%d %H:%M:%S}"


class OptOut(models.Model):
    """An address that must not get messages on a channel from this practice."""

    class Source(models.TextChoices):
        STOP = "stop", "Replied STOP"
        BOUNCE = "bounce", "Hard bounce"
        COMPLAINT = "complaint", "Spam complaint"
        UNSUBSCRIBE = "unsubscribe", "Unsubscribe link"
        STAFF = "staff", "Staff"
        PROVIDER = "provider", "Provider reported unsubscribed"

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    address = models.CharField(max_length=254)
    source = models.CharField(max_length=16, choices=Source.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["practice", "channel", "address"],
                                               name="optout_unique")]

    def __str__(self):
        return f"{self.channel}:{self.address} ({self.source})"


class MessagingSettings(models.Model):
    """A practice's sending configuration, kept beside the engine rather than on Practice."""

    practice = models.OneToOneField(Practice, on_delete=models.CASCADE, related_name="+")
    twilio_messaging_service_sid = models.CharField(max_length=40, blank=True)
    twilio_from_number = models.CharField(max_length=20, blank=True)
    # A window inside the legal 08:00-21:00 one, in the recipient's local time.
    quiet_hours_start = models.TimeField(null=True, blank=True)
    quiet_hours_end = models.TimeField(null=True, blank=True)
    frequency_cap = models.PositiveSmallIntegerField(default=2)
    frequency_window_days = models.PositiveSmallIntegerField(default=7)
    rate_per_second = models.FloatField(null=True, blank=True)

    def __str__(self):
        return f"messaging settings of {self.practice_id}"


class WebhookReceipt(models.Model):
    """Provider events already processed: a duplicate delivery answers 2xx and changes nothing."""

    provider = models.CharField(max_length=20)
    event_id = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["provider", "event_id"],
                                               name="webhook_receipt_unique")]

    def __str__(self):
        return f"{self.provider} {self.event_id}"


class SandboxMessage(models.Model):
    """A message the sandbox channel recorded instead of sending (embedded default and tests)."""

    Channel = Channel

    practice = models.ForeignKey(Practice, null=True, blank=True, on_delete=models.CASCADE,
                                 related_name="+")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    to = models.CharField(max_length=500)
    sender = models.CharField(max_length=254, blank=True)
    subject = models.CharField(max_length=500, blank=True)
    body = models.TextField(blank=True)
    html_body = models.TextField(blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return f"{self.channel} to {self.to}"
