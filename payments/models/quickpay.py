"""QuickPay: payment settings per practice, links to the no-login page, payments and their
gateway events."""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q

from practices.models import Practice

ZERO = Decimal("0.00")


REQUEST_MINIMUMS = (15, 25, 50, 100, 150, 200, 250)


class RequestAging(models.TextChoices):
    CURRENT = "current", "Any balance"
    OVER_30 = "over_30", "At least the minimum over 30 days old"
    OVER_60 = "over_60", "At least the minimum over 60 days old"
    OVER_90 = "over_90", "At least the minimum over 90 days old"


class PaymentSettings(models.Model):
    """A practice's online-payment configuration (one row per practice, created on first use)."""

    practice = models.OneToOneField(Practice, on_delete=models.CASCADE, related_name="payment_settings")
    # The practice's Stripe Connect account: payments go to it, on the platform's key.
    stripe_account_id = models.CharField(
        "Stripe account id", max_length=255, blank=True,
        validators=[RegexValidator(r"^acct_[A-Za-z0-9]{1,250}$",
                                   "A Stripe account id looks like acct_1AbC2dEf3GhI4jKl.")])
    link_expiry_days = models.PositiveSmallIntegerField(
        "links expire after (days)", default=60, validators=[MinValueValidator(1), MaxValueValidator(365)])
    require_date_of_birth = models.BooleanField(
        "ask for the guarantor's date of birth", default=False,
        help_text="Before the QuickPay page shows anything about the account.")
    # Bulk payment requests (payments/bulk_requests/): who is on the day's list, how the
    # requests and their reminders go out.
    request_minimum = models.PositiveSmallIntegerField(
        "minimum balance to ask for", choices=[(n, f"${n}") for n in REQUEST_MINIMUMS], default=25,
        help_text="Guarantors who owe more than this are on the list.")
    request_aging = models.CharField(
        "aging of the balance", max_length=8, choices=RequestAging.choices, default=RequestAging.CURRENT)
    request_include_claims = models.BooleanField(
        "include guarantors with outstanding insurance claims", default=False)
    request_reminders = models.PositiveSmallIntegerField(
        "follow-up reminders", choices=[(0, "None"), (1, "1"), (2, "2")], default=2)
    request_reminder_days = models.PositiveSmallIntegerField(
        "days between reminders", default=3, validators=[MinValueValidator(1), MaxValueValidator(30)])
    request_list_hour = models.PositiveSmallIntegerField(
        "the day's list is made at", choices=[(h, f"{h:02d}:00") for h in range(24)], default=7,
        help_text="Office time.")
    request_hourly_cap = models.PositiveIntegerField(
        "requests sent per hour, at most", default=250,
        validators=[MinValueValidator(1), MaxValueValidator(10_000)],
        help_text="A send is spread over the hours it needs, inside the hours texts may go out.")
    # The message templates (purpose payment_request) of the request and of its reminders, by
    # channel; the Standard ones are made and chosen the first time they are needed.
    request_sms_template = models.ForeignKey(
        "notifications.MessageTemplate", verbose_name="request by text", null=True, blank=True,
        on_delete=models.SET_NULL, related_name="+")
    request_email_template = models.ForeignKey(
        "notifications.MessageTemplate", verbose_name="request by email", null=True, blank=True,
        on_delete=models.SET_NULL, related_name="+")
    reminder_sms_template = models.ForeignKey(
        "notifications.MessageTemplate", verbose_name="reminders by text", null=True, blank=True,
        on_delete=models.SET_NULL, related_name="+")
    reminder_email_template = models.ForeignKey(
        "notifications.MessageTemplate", verbose_name="reminders by email", null=True, blank=True,
        on_delete=models.SET_NULL, related_name="+")
    # The last change number given to a payment of this practice (see Payment.change_seq). The
    # row is locked while a number is taken, so numbers commit in the order they are given.
    payments_seq = models.BigIntegerField(default=0, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "payment settings"

    def __str__(self):
        return f"payment settings of {self.practice_id}"


class LinkSource(models.TextChoices):
    STATEMENT = "statement", "Statement"
    ON_DEMAND = "on_demand", "On-demand"
    PAYMENT_REQUEST = "payment_request", "Payment request"
    MANUAL = "manual", "Front desk"


class LinkChannel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "Text"
    VOICE = "voice", "Voice"
    QR = "qr", "QR code"
    PAPER = "paper", "Paper statement"


class QuickPayLink(models.Model):
    """One link to the QuickPay page, tied to a guarantor and to the message that carried it.

    Only a SHA-256 digest of the token is stored: the token (128 random bits) is in the message
    and nowhere else, so the link cannot be shown again, only revoked.
    """

    # A statement batch mints a link per message in its own statements (links.quickpay_links_mint
    # checks the guarantors in the same INSERT): no database constraint on these two, which would
    # cost a deferred check per link at commit of a 100,000-statement batch. Links go with their
    # practice and guarantor through the ORM's cascade.
    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+", db_index=False,
                                 db_constraint=False)
    guarantor = models.ForeignKey("patients.Patient", on_delete=models.CASCADE, related_name="quickpay_links",
                                  db_constraint=False)
    # Unique through Meta.constraints: a unique field would also get a LIKE index on PostgreSQL,
    # which no query uses and every insert pays for. On PostgreSQL this and notification_key
    # are in collation "C", set by migration 0008 (identifiers compared by bytes): an AlterField
    # must keep it.
    token_hash = models.CharField(max_length=64)
    # The idempotency key of the outbox row that carries the link: exact attribution.
    notification_key = models.CharField(max_length=200)
    source = models.CharField(max_length=16, choices=LinkSource.choices)
    channel = models.CharField(max_length=8, choices=LinkChannel.choices)
    dunning_level = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", db_index=False)  # never looked up by who revoked
    # Wrong dates of birth entered on this link; at the limit it stops asking.
    dob_failures = models.PositiveSmallIntegerField(default=0)
    # The funnel's steps past delivery, each set once: the page's first opening, and the first
    # payment through the link that succeeded.
    first_opened_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["token_hash"], name="quickpay_token_hash_unique"),
            models.UniqueConstraint(fields=["notification_key"], name="quickpay_notification_key_unique"),
        ]

    def __str__(self):
        return f"QuickPay link {self.pk} ({self.source}, {self.channel})"


class QuickPayOpen(models.Model):
    """One opening of a QuickPay page, for analytics: the link and the time, nothing about the
    client."""

    link = models.ForeignKey(QuickPayLink, on_delete=models.CASCADE, related_name="opens")
    opened_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"link {self.link_id} opened {self.opened_at:%Y-%m-%d %H:%M}"


class PaymentStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    EXPIRED = "expired", "Checkout expired"
    PARTIALLY_REFUNDED = "partially_refunded", "Partly refunded"
    REFUNDED = "refunded", "Refunded"


# Statuses whose money reached the practice (some of it may have gone back since).
PAID_STATUSES = (PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED)


class Gateway(models.TextChoices):
    STRIPE = "stripe", "Stripe"
    SANDBOX = "sandbox", "Sandbox"


class Payment(models.Model):
    """A payment of a guarantor's balance, from the QuickPay page through the gateway.

    Pending until the gateway's webhook (or the sandbox checkout, through the same service)
    says how it went; the page the payer comes back to is never proof of payment.
    """

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+", db_index=False)
    guarantor = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="payments")
    link = models.ForeignKey(QuickPayLink, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="payments")
    # The page's form carries a random attempt id: posting it twice starts one checkout.
    attempt = models.CharField(max_length=64)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    amount_refunded = models.DecimalField(max_digits=12, decimal_places=2, default=ZERO)
    currency = models.CharField(max_length=3, default="usd")
    status = models.CharField(max_length=20, choices=PaymentStatus.choices, default=PaymentStatus.PENDING)
    gateway = models.CharField(max_length=10, choices=Gateway.choices)
    stripe_account_id = models.CharField(max_length=255, blank=True)
    checkout_session_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    checkout_url = models.URLField(max_length=2000, blank=True)
    payment_intent_id = models.CharField(max_length=255, blank=True)
    charge_id = models.CharField(max_length=255, blank=True)
    payer_email = models.EmailField(blank=True)
    failure_reason = models.CharField(max_length=300, blank=True)
    # What the payment took off the balance as we know it, bucket by bucket, so a refund puts
    # back exactly what was taken: {"total": "50.00", "amount_due": "50.00", "aging_over_120": ...}.
    balance_effect = models.JSONField(default=dict, blank=True)
    # A number per practice, given anew at each change the PMS must see (succeeded, refunded):
    # the API's cursor. Null while nothing has happened that the PMS must post.
    change_seq = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    succeeded_at = models.DateTimeField(null=True, blank=True)
    # When the first message of the statement, campaign or on-demand send whose link was paid
    # went out (payments/attribution.py), kept as the payment succeeds: the time to pay.
    first_message_at = models.DateTimeField(null=True, blank=True)
    # What the payment is attributed to, copied from its link when it starts (a link never
    # changes them): the source, channel and dunning level of the message that carried the link,
    # and whether that message was a follow-up in its series. On the payment, so that a year of
    # analytics reads the payments alone rather than joining each to its link.
    source = models.CharField(max_length=16, choices=LinkSource.choices, blank=True)
    channel = models.CharField(max_length=8, choices=LinkChannel.choices, blank=True)
    dunning_level = models.PositiveSmallIntegerField(null=True, blank=True)
    follow_up = models.BooleanField(default=False)
    failed_at = models.DateTimeField(null=True, blank=True)
    refunded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["practice", "change_seq"], name="payment_change_seq_unique"),
            models.UniqueConstraint(fields=["link", "attempt"], name="payment_attempt_unique"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
        ]
        indexes = [
            models.Index(fields=["practice", "-created_at", "-id"], name="payment_practice_recent"),
            models.Index(fields=["payment_intent_id"], name="payment_intent_idx",
                         condition=~Q(payment_intent_id="")),
            # Paid payments by the day (the dashboard's received today and this week; the median
            # time to pay), read from the index alone.
            models.Index(fields=["practice", "created_at"], name="payment_paid_recent",
                         include=["status", "amount", "succeeded_at", "first_message_at"],
                         condition=Q(status__in=["succeeded", "partially_refunded", "refunded"])),
        ]

    def __str__(self):
        return f"payment {self.pk} of {self.amount} ({self.status})"

    @property
    def net_amount(self) -> Decimal:
        return self.amount - self.amount_refunded if self.status in PAID_STATUSES else ZERO


class GatewayEvent(models.Model):
    """A gateway webhook event already handled: a replay answers 2xx and changes nothing."""

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100)
    account = models.CharField(max_length=255, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.type} {self.event_id}"


class SandboxCheckout(models.Model):
    """A checkout session of the sandbox gateway: the app's own stand-in for Stripe's hosted page."""

    session_id = models.CharField(max_length=100, unique=True)
    payment = models.OneToOneField(Payment, on_delete=models.CASCADE, related_name="sandbox_checkout")
    success_url = models.URLField(max_length=2000)
    cancel_url = models.URLField(max_length=2000)
    expires_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return self.session_id
