"""Day counts for recovery analytics: what a range of office days adds up to, read from a row
per day instead of a row per link or payment (payments/rollups.py keeps them)."""

from decimal import Decimal

from django.db import models

from practices.models import Practice

NO_LEVEL = 0  # the dunning level of a payment whose message had none (not a statement's)


class LinkDay(models.Model):
    """Links whose message was queued on an office day (in the office's time zone when the link
    was opened or paid), by source and channel: how many were opened, and how many paid."""

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+", db_index=False)
    day = models.DateField()
    source = models.CharField(max_length=16)
    channel = models.CharField(max_length=8)
    opened = models.PositiveIntegerField(default=0)
    paid = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["practice", "day", "source", "channel"],
                                               name="link_day_key")]

    def __str__(self):
        return f"{self.day} {self.source} {self.channel}: {self.opened} opened, {self.paid} paid"


class PaymentDay(models.Model):
    """Paid payments started on an office day, by what they are attributed to (the source,
    dunning level, follow-up and channel of the message whose link was paid) and by how long
    they waited from their series' first message (`wait`: an index of
    payments.analytics.figures.TIME_TO_PAY_BUCKETS, or its length for no message)."""

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+", db_index=False)
    day = models.DateField()
    source = models.CharField(max_length=16)
    level = models.PositiveSmallIntegerField(default=NO_LEVEL)
    follow_up = models.BooleanField(default=False)
    channel = models.CharField(max_length=8)
    wait = models.PositiveSmallIntegerField()
    payments = models.PositiveIntegerField(default=0)
    received = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0.00"))
    refunded = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0.00"))

    class Meta:
        constraints = [models.UniqueConstraint(
            fields=["practice", "day", "source", "level", "follow_up", "channel", "wait"],
            name="payment_day_key")]

    def __str__(self):
        return f"{self.day} {self.source} {self.channel}: {self.payments} payments"
