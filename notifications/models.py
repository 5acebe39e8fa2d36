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
# What staff (and the engine's callers) may still stop: anything not yet handed to a provider,
# and failures. A claimed row whose provider call has not begun can be stopped too (see
# Notification.can_cancel and services.notification_cancel).
CANCELLABLE_STATUSES = (*WAITING_STATUSES, Status.UNDELIVERABLE_PERMANENT, Status.DELIVERY_ERROR)


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
    # The caller's label for a group of messages (a statement batch of a profile, a campaign):
    # the screens filter on it, by the whole label or a leading part that ends at a ":".
    tag = models.CharField(max_length=100, blank=True, default="", db_default="")
    # Unique by the constraint in Meta (a `unique=True` CharField also gets a second,
    # LIKE-pattern index on PostgreSQL that nothing here uses). On PostgreSQL its collation is
    # "C", set by migration 0011 (an identifier compared by bytes): an AlterField must keep it.
    idempotency_key = models.CharField(max_length=200)

    send_at = models.DateTimeField()  # when the next attempt is due (moves for waits, retries)
    first_due_at = models.DateTimeField(null=True, blank=True)  # when it was first due
    status = models.CharField(max_length=32, choices=Status.choices, default=Status.QUEUED)
    reason_code = models.CharField(max_length=32, choices=ReasonCode.choices, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # The send lease: while `status` is sending, the row belongs to whoever claimed it until
    # `lease_expires_at`. `attempt_started_at` is set (by a conditional UPDATE) just before the
    # provider call; the reclaim rule in notifications/dispatch/ depends on the difference.
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
            # Manage errors and the dashboard's count of it: only the errors still to manage, so
            # their number, not the history's, sets the cost (and only they write this index).
            models.Index(fields=["practice", "-created_at", "-id"], name="notif_errors_idx",
                         condition=Q(status__in=["undeliverable_retry", "undeliverable_permanent",
                                                 "delivery_error", "queueing_error"], archived=False)),
            # One recipient's rows: the frequency cap (SMS/voice sends in a window, by sent_at),
            # the recipient filter of the history, a patient's history panel, a statement's
            # messages, whether an error was followed by a successful send (Manage errors).
            models.Index(fields=["practice", "recipient_kind", "recipient_id", "sent_at"],
                         name="notif_recipient_idx"),
            models.Index(fields=["provider_message_id"], name="notif_provider_id_idx",
                         condition=~Q(provider_message_id="")),
            # Only tagged rows: a batch's messages newest first (an equal tag), or a profile's
            # (a leading part of the tag: LIKE 'prefix%' needs the pattern operator class on
            # PostgreSQL; other databases ignore operator classes).
            models.Index(fields=["practice", "tag", "-created_at", "-id"], name="notif_tag_idx",
                         opclasses=["int8_ops", "varchar_pattern_ops", "timestamptz_ops", "int8_ops"],
                         condition=~Q(tag="")),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(channel__in=["email", "sms", "voice"]),
                                   name="notif_channel_valid"),
            models.UniqueConstraint(fields=["idempotency_key"], name="notif_idempotency_key_unique"),
        ]

    def __str__(self):
        return f"{self.channel} {self.kind} #{self.pk}"

    @property
    def can_cancel(self) -> bool:
        return self.status in CANCELLABLE_STATUSES or (
            self.status == Status.SENDING and self.attempt_started_at is None)


class NotificationDue(models.Model):
    """The due list: one narrow row per notification waiting for the dispatcher.

    A row exists while its notification waits (queued, queueing error, can retry) with
    `due_at` = its `send_at`. The dispatcher's claim moves `due_at` a claim lease ahead here,
    touching two small indexes instead of the wide notification row and all of its indexes;
    the task that gets the ids claims the notification rows themselves and clears their
    entries. An entry whose notification no longer waits is dropped by the next task that gets
    it. See notifications/dispatch/.
    """

    # No database constraint (here and on NotificationEvent): entries and events are written only
    # by the outbox for notifications it has just written or holds, and go with them through the
    # ORM's cascade. The constraint's check at commit locked every new notification row again
    # (FOR KEY SHARE): a third of a 5,000-message chunk's write time (measured).
    notification = models.OneToOneField(Notification, primary_key=True, on_delete=models.CASCADE,
                                        related_name="+", db_constraint=False)
    due_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["due_at"], name="notif_due_at_idx")]

    def __str__(self):
        return f"notification {self.notification_id} due {self.due_at:%Y-%m-%d %H:%M:%S}"


class NotificationCount(models.Model):
    """How many of a practice's notifications are in each status: the history's counts.

    One row per practice, stretch of creation time (`span` seconds from `bucket`, in seconds
    since 1970 UTC: a quarter of an hour, a day, 32 days) and the dimensions the screens filter
    on (status, channel, kind, archived). A count over any run of whole quarter hours sums a
    few rows of each span instead of counting millions of notifications (notifications/counts.py).
    Only `counts.notification_counts_compact` writes here, folding in NotificationCountChange.
    """

    practice_id = models.BigIntegerField()  # no constraint: rows outlive nothing they describe
    span = models.IntegerField()
    bucket = models.BigIntegerField()
    status = models.CharField(max_length=32)
    channel = models.CharField(max_length=8)
    kind = models.CharField(max_length=40)
    archived = models.BooleanField()
    n = models.BigIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(
            fields=["practice_id", "span", "bucket", "status", "channel", "kind", "archived"],
            name="notif_count_key")]

    def __str__(self):
        return f"{self.n} {self.status} {self.channel} {self.kind} from {self.bucket} ({self.span} s)"


class NotificationCountChange(models.Model):
    """A change to NotificationCount not folded in yet: +n or -n notifications of a quarter hour.

    Written by the database itself, in the transaction of every statement that inserts,
    updates or deletes notifications (triggers made by migration 0007: per statement with
    transition tables on PostgreSQL, per row on SQLite), so no writer can forget the counts.
    Rows are only ever inserted, so concurrent writers never wait for each other here; the
    due-work job `counts.notification_counts_compact` folds them into NotificationCount.
    """

    practice_id = models.BigIntegerField()
    bucket = models.BigIntegerField()  # the quarter hour (900 s) of the notifications' created_at
    status = models.CharField(max_length=32)
    channel = models.CharField(max_length=8)
    kind = models.CharField(max_length=40)
    archived = models.BooleanField()
    n = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["practice_id", "bucket"], name="notif_count_change_idx")]

    def __str__(self):
        return f"{self.n:+d} {self.status} {self.channel} {self.kind} at {self.bucket}"


class NotificationRecipient(models.Model):
    """What the history's recipient filter searches: search keys of the people a practice's
    notifications went to, a few per person instead of one per message.

    A key is "N " and a name from the start of one of its words on, or "A " and an address, in
    upper case: "Maria de la Cruz" gives "N MARIA DE LA CRUZ", "N DE LA CRUZ", "N LA CRUZ" and
    "N CRUZ", so a term matches a name where one of its words starts with the term (the patient
    search's rule too), through an index range on (practice, key), whatever the size of the
    history. Written by the database in the transaction of every statement that inserts
    notifications or changes their recipient (notifications/triggers.py).
    """

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+",
                                 db_index=False)
    recipient_kind = models.CharField(max_length=16, choices=RecipientKind.choices)
    recipient_id = models.BigIntegerField()
    key = models.CharField(max_length=260)

    class Meta:
        # Not unique: the triggers add a key only where the person has none alike, without
        # waiting for other writers' uncommitted rows (two imports adding the same people in a
        # different order could otherwise deadlock); a rare duplicate changes no search.
        indexes = [models.Index(fields=["practice", "recipient_kind", "recipient_id"],
                                name="notif_recipient_person_idx"),
                   # The pattern operator class lets PostgreSQL answer LIKE 'TERM%' with an
                   # index range whatever the database's collation (ignored on SQLite).
                   models.Index(fields=["practice", "key"], name="notif_recipient_key_idx",
                                opclasses=["", "varchar_pattern_ops"])]

    def __str__(self):
        return f"{self.recipient_kind} {self.recipient_id}: {self.key}"


class NotificationEvent(models.Model):
    """One status change of a notification: the history screen's status history."""

    # Indexed by notif_event_idx alone, which leads with it (see NotificationDue for the
    # constraint): a batch writes an event for every row it queues or stops, and each index
    # is one more write per event.
    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="events",
                                     db_constraint=False, db_index=False)
    status = models.CharField(max_length=32, choices=Status.choices)
    reason_code = models.CharField(max_length=32, choices=ReasonCode.choices, blank=True)
    detail = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Set only when staff acted (a cancel, a resend): the index holds those events alone. No
    # constraint in the database (Django sets it to NULL when the user goes): PostgreSQL would
    # queue a check for every event inserted, actor or none, and run them all at commit.
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+", db_index=False, db_constraint=False)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["notification", "created_at"], name="notif_event_idx"),
                   models.Index(fields=["actor"], name="notif_event_actor_idx",
                                condition=Q(actor__isnull=False))]

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


class TemplatePurpose(models.TextChoices):
    """What a message template is for. The outbox knows purposes only by these names."""

    BALANCE = "balance", "Balance notification"
    ON_DEMAND = "on_demand", "On-demand message"
    PAYMENT_REQUEST = "payment_request", "Payment request"


class MessageTemplate(models.Model):
    """A practice's named message for one purpose and channel; its text lives in versions.

    Every save adds a version and never changes an earlier one, so a notification that records
    the template's name and version number can always be traced to the exact text it came from.
    """

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    purpose = models.CharField(max_length=20, choices=TemplatePurpose.choices)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    name = models.CharField(max_length=100)
    current_version = models.PositiveIntegerField(default=0)  # the latest version's number
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["purpose", "channel", "name"]
        constraints = [
            models.UniqueConstraint(fields=["practice", "name"], name="msg_template_name_unique"),
            models.CheckConstraint(condition=Q(channel__in=["email", "sms", "voice"]),
                                   name="msg_template_channel_valid"),
        ]

    def __str__(self):
        return f"{self.name} v{self.current_version}"


class MessageTemplateVersion(models.Model):
    """One saved text of a template; never changed once written."""

    template = models.ForeignKey(MessageTemplate, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    subject = models.CharField(max_length=500, blank=True)
    body = models.TextField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["template", "-number"]
        constraints = [models.UniqueConstraint(fields=["template", "number"],
                                               name="msg_template_version_unique")]

    def __str__(self):
        return f"{self.template_id} v{self.number}"
