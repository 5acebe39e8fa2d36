"""Bulk payment requests: the daily list, snoozes, campaigns and remembered contact fixes.

The day's list is a snapshot (one `RequestListEntry` per guarantor who passed the eligibility
rules when it was made, snoozes aside), made at the practice's hour by a row with a due time
(`RequestList.due_at`). Whether an entry can be sent now is asked again of the same rules
(payments/bulk_requests/eligibility.py) whenever the list is shown or sent.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from practices.models import Practice


class RequestList(models.Model):
    """One practice's list for one office day: due at the practice's hour, made once."""

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+", db_index=False)
    day = models.DateField()  # the office's date
    due_at = models.DateTimeField()
    made_at = models.DateTimeField(null=True, blank=True)
    size = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["practice", "day"], name="request_list_day_unique")]
        indexes = [models.Index(fields=["due_at"], name="request_list_due_idx",
                                condition=Q(made_at__isnull=True))]

    def __str__(self):
        return f"payment request list of {self.practice_id} for {self.day}"


class RequestListEntry(models.Model):
    """A guarantor on a day's list. `position` is the list's order (largest balance first),
    the keyset of its pages: an integer, so no patient detail goes into a page link."""

    request_list = models.ForeignKey(RequestList, on_delete=models.CASCADE, related_name="entries",
                                     db_index=False)
    guarantor = models.ForeignKey("patients.Patient", on_delete=models.CASCADE, related_name="+",
                                  db_constraint=False)
    position = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["request_list", "position"], name="request_entry_position"),
            models.UniqueConstraint(fields=["request_list", "guarantor"], name="request_entry_guarantor"),
        ]

    def __str__(self):
        return f"{self.guarantor_id} at {self.position}"


class SnoozeReason(models.TextChoices):
    CLAIM_NOT_STARTED = "claim_not_started", "Claim not started"
    CLAIM_RESUBMIT = "claim_resubmit", "Claim needs resubmitting"
    ADJUSTMENT = "adjustment", "Adjustment needed first"
    PERSONAL = "personal", "Personal arrangement with the guarantor"
    HSA_CARD = "hsa_card", "HSA card"
    OTHER = "other", "Other"


class SnoozeEnd(models.TextChoices):
    UNSNOOZED = "unsnoozed", "Un-snoozed"
    REPLACED = "replaced", "Snoozed again"
    CLAIMS_SETTLED = "claims_settled", "Claims settled in the PMS"


class Snooze(models.Model):
    """A guarantor set aside from the list: until a date (they come back by themselves that
    day), or until the PMS reports their outstanding claims settled (`until` empty)."""

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+", db_index=False)
    guarantor = models.ForeignKey("patients.Patient", on_delete=models.CASCADE, related_name="+",
                                  db_constraint=False)
    until = models.DateField(null=True, blank=True)  # the re-enroll date (office date)
    reason = models.CharField(max_length=20, choices=SnoozeReason.choices)
    note = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_reason = models.CharField(max_length=20, choices=SnoozeEnd.choices, blank=True)
    ended_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")

    class Meta:
        constraints = [
            # One standing snooze per guarantor; a new one ends the old first. A dated snooze
            # whose day has come stays standing (it no longer counts) until replaced.
            models.UniqueConstraint(fields=["guarantor"], condition=Q(ended_at__isnull=True),
                                    name="snooze_one_standing"),
        ]
        indexes = [models.Index(fields=["practice", "until"], name="snooze_until_idx",
                                condition=Q(ended_at__isnull=True))]

    def __str__(self):
        return f"snooze of {self.guarantor_id} until {self.until or 'claims settle'}"

    @property
    def claim_tied(self) -> bool:
        return self.until is None


class CampaignState(models.TextChoices):
    ACTIVE = "active", "Active"
    PAID = "paid", "Paid"
    FINISHED = "finished", "Finished"
    UNDELIVERABLE = "undeliverable", "Undeliverable"


# A guarantor has at most one campaign in these states; they keep the guarantor off the list.
OPEN_STATES = (CampaignState.ACTIVE, CampaignState.UNDELIVERABLE)


class UndeliverableReason(models.TextChoices):
    NO_CONTACT = "no_contact", "No mobile number and no email"
    NO_CONSENT = "no_consent", "No consent for texts or email"
    INVALID_NUMBER = "invalid_number", "Not a valid phone number"
    NOT_MOBILE = "not_mobile", "Not a mobile number (a landline?)"
    UNREACHABLE = "unreachable", "The carrier could not deliver it"
    OPTED_OUT = "opted_out", "Opted out of texts (replied STOP)"
    BOUNCED = "bounced", "The email bounced"
    NOT_SENT = "not_sent", "Could not be sent"


# Reasons a new mobile number cannot fix: the guarantor said no.
NOT_RESENDABLE = (UndeliverableReason.OPTED_OUT,)


class PaymentRequestCampaign(models.Model):
    """A payment request to one guarantor and its follow-up reminders, until they pay.

    Messages are outbox rows with the keys `payreq:<id>:<attempt>:<step>` (step 0 the request,
    1 and 2 the reminders); `attempt` grows when staff resend to a fixed number.
    """

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+", db_index=False)
    guarantor = models.ForeignKey("patients.Patient", on_delete=models.CASCADE,
                                  related_name="payment_request_campaigns", db_constraint=False)
    started_at = models.DateTimeField()
    started_on = models.DateField()  # the office's date: compared with visit days
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    state = models.CharField(max_length=16, choices=CampaignState.choices, default=CampaignState.ACTIVE)
    state_at = models.DateTimeField()
    channel = models.CharField(max_length=8, blank=True)  # sms, email, "" (nothing to send to)
    address = models.CharField(max_length=254, blank=True)
    attempt = models.PositiveSmallIntegerField(default=1)
    reminders = models.PositiveSmallIntegerField(default=0)  # follow-ups queued for this attempt
    request_at = models.DateTimeField(null=True, blank=True)  # when this attempt's request is due
    # An active campaign finishes by itself then: the last reminder and the days given after it.
    ends_at = models.DateTimeField(null=True, blank=True)
    undeliverable_reason = models.CharField(max_length=20, choices=UndeliverableReason.choices, blank=True)
    undeliverable_detail = models.CharField(max_length=300, blank=True)
    fixed_number = models.BooleanField(default=False)  # sent to a number staff added

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["guarantor"], condition=Q(state__in=["active", "undeliverable"]),
                                    name="campaign_one_open"),
        ]
        indexes = [
            models.Index(fields=["guarantor", "started_on"], name="campaign_guarantor_day"),
            models.Index(fields=["practice", "state", "-id"], name="campaign_practice_state"),
            models.Index(fields=["practice", "started_on"], name="campaign_practice_day"),
            models.Index(fields=["ends_at"], name="campaign_active_ends", condition=Q(state="active")),
            models.Index(fields=["request_at"], name="campaign_active_request", condition=Q(state="active")),
        ]

    def __str__(self):
        return f"payment request {self.pk} to {self.guarantor_id} ({self.state})"

    def message_key(self, step: int, attempt: int | None = None) -> str:
        return f"payreq:{self.pk}:{attempt or self.attempt}:{step}"

    @property
    def resendable(self) -> bool:
        return self.state == CampaignState.UNDELIVERABLE and self.undeliverable_reason not in NOT_RESENDABLE


class ContactFix(models.Model):
    """A mobile number staff added for a guarantor whose request could not be delivered.

    The PMS stays the source of contact details: the number is used for the guarantor's
    requests only while the PMS still sends the number it had when the fix was made
    (`pms_mobile`). Once it sends another (the fixed one, or any), the fix no longer applies.
    """

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+", db_index=False)
    guarantor = models.OneToOneField("patients.Patient", on_delete=models.CASCADE, related_name="+",
                                     db_constraint=False)
    mobile_phone = models.CharField(max_length=20)
    pms_mobile = models.CharField(max_length=20, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["practice", "-created_at"], name="contact_fix_recent")]

    def __str__(self):
        return f"mobile fix for {self.guarantor_id}"


class RequestHour(models.Model):
    """How many payment-request messages of a practice are due in one clock hour (UTC), so a
    send spreads its messages under the hourly cap, counting those queued before it."""

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+", db_index=False)
    hour = models.DateTimeField()
    used = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["practice", "hour"], name="request_hour_unique")]

    def __str__(self):
        return f"{self.used} at {self.hour:%Y-%m-%d %H:00}"
