"""Helpers for tests that drain many messages through real processes to the fake Twilio."""

from collections import Counter
from datetime import UTC, datetime

from django.db import transaction

from notifications.models import Notification, Status
from notifications.services import Recipient, notification_schedule


def daytime_zone() -> str:
    """A fixed-offset zone where it is now early afternoon: quiet hours never interfere."""
    offset = (13 - datetime.now(UTC).hour + 12) % 24 - 12
    return "UTC" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


def schedule_texts(practice, count: int, *, prefix: str = "fault", send_at=None) -> None:
    """`count` texts to distinct recipients, each body ending with its idempotency key."""
    practice.time_zone = daytime_zone()
    practice.save()
    with transaction.atomic():
        for i in range(count):
            notification_schedule(
                practice=practice, recipient=Recipient(kind="patient", id=i), channel="sms",
                address=f"+1555{i:07d}", kind="balance_dunning",
                body=f"Lakeside Dental: balance notice {prefix}-{i}", idempotency_key=f"{prefix}-{i}",
                send_at=send_at)


def assert_exactly_once(fake, count: int) -> None:
    """Every text reached the fake provider once, and the outbox recorded each provider id."""
    by_key = Counter(m["body"].rsplit(" ", 1)[-1] for m in fake.messages)
    assert len(by_key) == count, f"{count - len(by_key)} notifications never reached the provider"
    twice = {k: n for k, n in by_key.items() if n > 1}
    assert not twice, f"sent more than once: {twice}"
    assert Notification.objects.filter(channel="sms", status=Status.SENT).count() == count
    sids = set(Notification.objects.filter(channel="sms").values_list("provider_message_id", flat=True))
    assert sids == {m["sid"] for m in fake.messages}
