"""Demo outbox rows for the embedded default: a few messages in each state, so the queue,
history and manage-errors screens have something to show."""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from practices.demo import DemoResult
from practices.models import Practice

from .models import Notification, NotificationEvent, Status
from .services import Recipient, notification_schedule

_ROWS = [
    # (recipient, channel, address, kind, status, detail)
    ("Maria Lopez", "sms", "+13125550161", "balance_dunning", Status.DELIVERED, "Twilio: delivered"),
    ("James Carter", "email", "james.carter@example.test", "balance_dunning", Status.SENT,
     "accepted by the provider"),
    ("Aisha Khan", "sms", "+13125550162", "payment_request", Status.UNDELIVERABLE_PERMANENT,
     "Twilio 21614: not a mobile number"),
    ("Tom Becker", "voice", "+13125550163", "balance_dunning", Status.DELIVERY_ERROR,
     "temporary error on attempt 5, no attempts left: Twilio HTTP 503"),
    ("Lena Park", "sms", "+13125550164", "balance_on_demand", Status.QUEUED, "due tomorrow"),
]


@transaction.atomic
def demo_seed() -> DemoResult:
    practice = Practice.objects.filter(slug="bright-smiles-downtown").first()
    if practice is None:
        return DemoResult(practices=[], created=False)
    created = False
    for i, (name, channel, address, kind, status, detail) in enumerate(_ROWS):
        key = f"demo:{practice.slug}:{i}"
        if Notification.objects.filter(idempotency_key=key).exists():
            continue
        created = True
        n = notification_schedule(
            practice=practice, recipient=Recipient(kind="patient", id=1000 + i, name=name),
            channel=channel, address=address, kind=kind, idempotency_key=key,
            subject="Your balance at Bright Smiles Dental" if channel == "email" else "",
            body=f"Bright Smiles Dental: {name.split()[0]}, you have a balance. "
                 "Pay at https://example.test/q/demo",
            send_at=timezone.now() + timedelta(days=1), template_name=f"{kind}-{channel}",
            template_version="1")
        if status != Status.QUEUED:
            Notification.objects.filter(pk=n.pk).update(status=status, attempts=1,
                                                        sent_at=timezone.now())
            NotificationEvent.objects.create(notification=n, status=status, detail=detail)
    return DemoResult(practices=[practice], created=created,
                      summary="Demo notifications: " + ("added." if created else "already present."))
