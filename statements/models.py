"""Statement profiles and their cadences, statement batches, statements and dunning counts.

A profile's steps (CadenceStep) are what admins edit; what sends is the profile's approved
proof (ProfileVersion): a frozen copy of the steps with each template's version, taken when an
admin approved it. Editing after an approval changes only the steps, so the approved copy keeps
sending until the edit is approved in turn.
"""

from datetime import time

from django.conf import settings
from django.db import models
from django.db.models import Q

from notifications.models import Channel, MessageTemplate
from patients.models import CsvUpload, Patient
from practices.models import Practice

BALANCE_KIND = "balance_notification"  # the outbox kind of every message a statement causes
DEFAULT_SEND_HOUR = time(10, 0)
STATEMENT_OFFSETS = (0, 120)  # days after the statement date
DUE_OFFSETS = (-30, 120)  # days before (negative) or after the due date
MAX_LEVEL = 10


class StatementProfile(models.Model):
    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=60)
    is_default = models.BooleanField(default=False)
    # The recipient's local time at which a step goes unless the step names its own.
    send_hour = models.TimeField(default=DEFAULT_SEND_HOUR)
    active = models.BooleanField(default=True)
    approved_version = models.ForeignKey("ProfileVersion", null=True, blank=True,
                                         on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-is_default", "name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["practice", "slug"], name="profile_slug_unique"),
            # At most one default per practice; the services keep exactly one.
            models.UniqueConstraint(fields=["practice"], condition=Q(is_default=True),
                                    name="profile_one_default"),
        ]

    def __str__(self):
        return self.name


class Anchor(models.TextChoices):
    STATEMENT_DATE = "statement_date", "after the statement date"
    DUE_DATE = "due_date", "from the due date"


class CadenceStep(models.Model):
    """One message of a profile's cadence at a dunning level (the draft an admin edits)."""

    profile = models.ForeignKey(StatementProfile, on_delete=models.CASCADE, related_name="steps")
    level = models.PositiveSmallIntegerField()  # the highest level defined serves every higher count
    anchor = models.CharField(max_length=16, choices=Anchor.choices, default=Anchor.STATEMENT_DATE)
    offset_days = models.SmallIntegerField(default=0)
    at_time = models.TimeField(null=True, blank=True)  # None: the profile's send hour
    channel = models.CharField(max_length=8, choices=Channel.choices)
    template = models.ForeignKey(MessageTemplate, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["level", "anchor", "offset_days", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(level__gte=1, level__lte=MAX_LEVEL), name="step_level_range"),
            models.CheckConstraint(
                condition=(Q(anchor="statement_date", offset_days__gte=STATEMENT_OFFSETS[0],
                             offset_days__lte=STATEMENT_OFFSETS[1])
                           | Q(anchor="due_date", offset_days__gte=DUE_OFFSETS[0],
                               offset_days__lte=DUE_OFFSETS[1])),
                name="step_offset_range"),
            models.CheckConstraint(condition=Q(channel__in=["email", "sms", "voice"]),
                                   name="step_channel_valid"),
        ]

    def __str__(self):
        return f"level {self.level} {self.channel} {self.when}"

    @property
    def when(self) -> str:
        days = self.offset_days
        if self.anchor == Anchor.STATEMENT_DATE:
            return "on the statement date" if days == 0 else f"statement date + {days} days"
        if days == 0:
            return "on the due date"
        return f"{abs(days)} days {'before' if days < 0 else 'after'} the due date"


class ProfileVersion(models.Model):
    """An approved proof: the steps as they were, each with its template's version, frozen.

    `steps` holds one dict per step: id, level, anchor, offset_days, at ("HH:MM", the send hour
    resolved), channel, template_id, template_name, template_version.
    """

    profile = models.ForeignKey(StatementProfile, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    steps = models.JSONField(default=list)
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    approved_at = models.DateTimeField()

    class Meta:
        ordering = ["profile", "-number"]
        constraints = [models.UniqueConstraint(fields=["profile", "number"],
                                               name="profile_version_unique")]

    def __str__(self):
        return f"{self.profile_id} proof v{self.number}"


class BatchSource(models.TextChoices):
    API = "api", "API"
    CSV = "csv", "CSV upload"


class BatchStatus(models.TextChoices):
    QUEUED = "queued", "Notifications queued"
    STORED = "stored", "Stored; no notifications"


class StatementBatch(models.Model):
    """A run of statements from the PMS, one statement per guarantor."""

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    batch_id = models.CharField("PMS batch id", max_length=64)
    profile = models.ForeignKey(StatementProfile, on_delete=models.PROTECT, related_name="batches")
    source = models.CharField(max_length=8, choices=BatchSource.choices)
    status = models.CharField(max_length=8, choices=BatchStatus.choices)
    # Why nothing was queued (add-on off, profile not approved or inactive): the API's answer and
    # the batch page say it.
    note = models.CharField(max_length=300, blank=True)
    received_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    # A digest of the statements as sent (valid or not): the same batch_id with the same
    # statements is a repeat; with others it is a conflict.
    content_hash = models.CharField(max_length=64)
    received = models.PositiveIntegerField(default=0)  # statements in the request or file
    accepted = models.PositiveIntegerField(default=0)
    rejected_count = models.PositiveIntegerField(default=0)
    notifications_queued = models.PositiveIntegerField(default=0)
    no_channel = models.PositiveIntegerField(default=0)  # guarantors owing who can receive nothing
    superseded = models.PositiveIntegerField(default=0)  # older messages this batch stopped
    rejected = models.JSONField(default=list, blank=True)  # the first rejections: {index, field, message}

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["practice", "batch_id"], name="batch_id_unique")]
        indexes = [models.Index(fields=["practice", "-received_at", "-id"], name="batch_recent")]

    def __str__(self):
        return self.batch_id

    @property
    def tag(self) -> str:
        """The outbox tag of this batch's messages (the profile's tag leads it)."""
        return f"{profile_tag(self.profile_id)}batch:{self.pk}"


def profile_tag(profile_id: int) -> str:
    """The leading part of the outbox tags of every batch of a profile."""
    return f"statements:profile:{profile_id}:"


class Statement(models.Model):
    """One guarantor's statement in a batch, and the dunning level it was sent at.

    The batch, guarantor and practice links carry no database constraint: every row is written
    by the batch's set-based insert for guarantors it has just read, and a constraint would cost
    a deferred check per row at commit of a 100,000-statement batch. They go with their batch
    (and the guarantor) through the ORM's cascade.
    """

    batch = models.ForeignKey(StatementBatch, on_delete=models.CASCADE, related_name="statements",
                              db_constraint=False, db_index=False)
    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+",
                                 db_constraint=False, db_index=False)
    guarantor = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="+",
                                  db_constraint=False, db_index=False)
    statement_date = models.DateField()
    due_date = models.DateField()
    amount_due = models.DecimalField(max_digits=12, decimal_places=2)
    balance = models.DecimalField(max_digits=12, decimal_places=2)
    level = models.PositiveIntegerField(default=0)  # the dunning count it raised (0: nothing due)
    # The proof's step ids this statement queued messages for, comma-separated: its messages'
    # keys are statement:<id>:step:<step id>.
    steps = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["batch", "guarantor"],
                                               name="statement_one_per_guarantor")]
        indexes = [models.Index(fields=["practice", "guarantor", "-id"], name="statement_guarantor")]

    def __str__(self):
        return f"statement {self.pk} of {self.guarantor_id}"

    @property
    def step_ids(self) -> list[int]:
        return [int(x) for x in self.steps.split(",") if x]

    @property
    def keys(self) -> list[str]:
        """The idempotency keys of the messages this statement queued."""
        return [statement_key(self.pk, step_id) for step_id in self.step_ids]


def statement_key(statement_id: int, step_id: int) -> str:
    return f"statement:{statement_id}:step:{step_id}"


class Dunning(models.Model):
    """A guarantor's dunning count in their practice, and the statement that now speaks.

    Each batched statement with an amount due raises the count by one; it goes back to zero
    when the balance reaches zero (a statement or import with a zero balance, or a payment).
    `statement` is the guarantor's newest statement: messages of any other are superseded.
    `paid_at` is set when the balance reached zero after that statement.

    On PostgreSQL the table leaves half of each page free (migration 0007), so that a batch's
    rewrite of its guarantors' rows leaves the indexes alone.
    """

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+",
                                 db_constraint=False, db_index=False)
    guarantor = models.OneToOneField(Patient, on_delete=models.CASCADE, related_name="+",
                                     db_constraint=False)
    count = models.PositiveIntegerField(default=0)
    statement = models.ForeignKey(Statement, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+", db_constraint=False, db_index=False)
    paid_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField()

    def __str__(self):
        return f"dunning {self.count} for {self.guarantor_id}"


class StatementUpload(CsvUpload):
    """A statement batch uploaded as a CSV file: checked, previewed, then taken in as a batch."""

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    file = models.FileField(upload_to="statement-uploads/%Y/%m/")
    batch_id = models.CharField("PMS batch id", max_length=64)
    profile = models.ForeignKey(StatementProfile, on_delete=models.PROTECT, related_name="+")
    # The batch the file became once imported.
    received_batch = models.ForeignKey(StatementBatch, null=True, blank=True, on_delete=models.SET_NULL,
                                       related_name="+")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["practice", "-created_at"], name="statement_upload_recent")]

    def __str__(self):
        return f"{self.original_name} ({self.status})"


ON_DEMAND_KIND = "balance_on_demand"  # the outbox kind of an on-demand balance message


class OnDemandMessage(models.Model):
    """A balance message staff sent from a patient's dashboard or a guarantor's account.

    The message itself is the outbox row whose idempotency key is `notification_key`; this row
    says for which guarantor's balance it went, to whom, from which template and who sent it, so
    the guarantor's statement history lists it. It raises no dunning count.
    """

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+", db_index=False)
    # The account whose balance the message is about (the index below serves the account page).
    guarantor = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="+", db_index=False)
    # Who it went to: the guarantor, or the patient whose dashboard it was sent from.
    recipient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="+", db_index=False)
    notification_key = models.CharField(max_length=200, unique=True)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    address_corrected = models.BooleanField(default=False)  # a phone or email typed for this send
    template = models.ForeignKey(MessageTemplate, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    template_version = models.PositiveIntegerField(null=True, blank=True)
    edited = models.BooleanField(default=False)  # the text was changed for this send
    balance = models.DecimalField(max_digits=12, decimal_places=2)  # the balance when it was sent
    sent_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["practice", "guarantor", "-id"], name="on_demand_guarantor")]

    def __str__(self):
        return f"on-demand {self.channel} for {self.guarantor_id}"


def on_demand_key(practice_id: int, send_key: str) -> str:
    return f"on_demand:{practice_id}:{send_key}"
