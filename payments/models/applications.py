"""Payment-plan applications, their events, and the alerts to the office's team about them."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from practices.models import Membership, Practice


class EventType(models.TextChoices):
    STARTED = "started", "Started"
    COMPLETED = "completed", "Completed"
    DECLINED = "declined", "Declined"
    APPROVED = "approved", "Approved"
    ACTIVATED = "activated", "Activated"
    PREQUALIFIED = "prequalified", "Pre-qualified"


class Alert(models.TextChoices):
    """The five alerts, in the order the preferences screen lists them."""

    INCOMPLETE = "incomplete", "Incomplete application"
    DECLINED = "declined", "Declined application"
    OPEN_APPROVAL = "open_approval", "Open approval"
    ACTIVATED = "activated", "Payment plan activated"
    PREQUALIFIED = "prequalified", "Pre-qualified"


class Application(models.Model):
    """A patient's payment-plan application, as the financing provider reports it.

    The derived fields (state and the first time each event type occurred) are recomputed from
    the events, ordered by when they occurred, so late and out-of-order events land in place.
    The patient is kept as received (external id and name) until it is linked to a patient
    record (see services.application_patient_resolve).
    """

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="applications")
    external_id = models.CharField(max_length=100)
    patient_external_id = models.CharField(max_length=100)
    patient_first_name = models.CharField(max_length=100)
    patient_last_name = models.CharField(max_length=100)
    # The practice's patient record with patient_external_id (created when the PMS has not sent it).
    patient = models.ForeignKey("patients.Patient", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="applications")
    state = models.CharField(max_length=16, choices=EventType.choices)
    state_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    declined_at = models.DateTimeField(null=True, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    prequalified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["practice", "external_id"], name="application_external_unique"),
        ]
        indexes = [models.Index(fields=["practice", "-state_at"], name="application_practice_recent"),
                   # The list filtered by state (open approvals waiting: the dashboard's count).
                   models.Index(fields=["practice", "state", "-state_at"], name="application_practice_state")]
        ordering = ["-state_at", "-pk"]

    def __str__(self):
        return f"application {self.external_id} ({self.state})"

    @property
    def patient_short_name(self) -> str:
        """First name and last initial: what an alert's subject may say about the patient."""
        initial = self.patient_last_name[:1].upper()
        return f"{self.patient_first_name} {initial}." if initial else self.patient_first_name

    def first_at(self, event_type: str):
        return getattr(self, f"{event_type}_at")


class ApplicationEvent(models.Model):
    """One event from the provider. Its event_id is unique per practice: a repeat is ignored."""

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="events")
    event_id = models.CharField(max_length=100)
    type = models.CharField(max_length=16, choices=EventType.choices)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["practice", "event_id"], name="application_event_unique"),
        ]
        ordering = ["occurred_at", "pk"]

    def __str__(self):
        return f"{self.type} at {self.occurred_at:%Y-%m-%d %H:%M}"


class AlertTimer(models.Model):
    """A delayed alert (incomplete application, open approval): a row with a due time.

    Pending timers are fired by the due-work job once due_at has passed; each event for the
    application recomputes due_at and whether the timer is cancelled, until it has fired.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        CANCELLED = "cancelled", "Cancelled"
        FIRED = "fired", "Fired"

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="timers")
    alert = models.CharField(max_length=16, choices=Alert.choices)
    due_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    fired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["application", "alert"], name="alert_timer_unique"),
        ]
        indexes = [
            # Finding due timers stays cheap however many fired or cancelled rows pile up.
            models.Index(fields=["due_at"], condition=Q(status="pending"), name="alert_timer_pending_due"),
            # The alerts an office had lately (the dashboard, the applications list's filter).
            models.Index(fields=["practice", "fired_at"], condition=Q(status="fired"),
                         name="alert_timer_fired_recent"),
        ]

    def __str__(self):
        return f"{self.alert} due {self.due_at:%Y-%m-%d %H:%M} ({self.status})"


class AlertDelivery(models.Model):
    """One alert for one team member: at most one per application, alert and user.

    Instant deliveries are handed to the outbox when created; digest deliveries wait for the
    member's next 08:00 digest in the office's time zone.
    """

    class Mode(models.TextChoices):
        INSTANT = "instant", "Instant"
        DIGEST = "digest", "Daily digest"

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="deliveries")
    alert = models.CharField(max_length=16, choices=Alert.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    mode = models.CharField(max_length=10, choices=Mode.choices)
    alert_at = models.DateTimeField(help_text="When the alert was raised (first sent) for this application.")
    created_at = models.DateTimeField(auto_now_add=True)
    digest_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["application", "alert", "user"], name="alert_delivery_once"),
        ]
        indexes = [
            models.Index(fields=["practice", "user"], condition=Q(mode="digest", digest_sent_at=None),
                         name="alert_delivery_digest_waiting"),
        ]
        ordering = ["alert_at", "pk"]

    def __str__(self):
        return f"{self.alert} to user {self.user_id} ({self.mode})"


class AlertPreference(models.Model):
    """A team member's choice for one alert in one office. No row means on, instant."""

    class Delivery(models.TextChoices):
        INSTANT = "instant", "Instant"
        DIGEST = "digest", "Daily digest"

    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="alert_preferences")
    alert = models.CharField(max_length=16, choices=Alert.choices)
    enabled = models.BooleanField(default=True)
    delivery = models.CharField(max_length=10, choices=Delivery.choices, default=Delivery.INSTANT)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["membership", "alert"], name="alert_preference_unique"),
        ]

    def __str__(self):
        return f"{self.alert}: {self.mode}"

    @property
    def mode(self) -> str:
        """instant, digest or off."""
        return self.delivery if self.enabled else "off"
