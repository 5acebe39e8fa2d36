"""The per-sender rate: a burst drains at the configured rate, with no 429 storm."""

import threading

from django.db import connection

from notifications import dispatch
from notifications.models import MessagingSettings, Notification, Status
from notifications.sending_rate import sending_rate_acquire
from notifications.services import Recipient


def _burst(schedule, count):
    for i in range(count):
        schedule(recipient=Recipient(kind="patient", id=i), address=f"+1312555{i:04d}")


def test_a_burst_drains_at_the_practice_rate_without_429s(world, schedule, fake_twilio, daytime):
    MessagingSettings.objects.create(practice=world.practice_a, twilio_from_number="+13125550100",
                                     rate_per_second=80)
    fake_twilio.max_per_second = 90  # the provider's own limit, a little above ours
    _burst(schedule, 240)
    dispatch.drain_inline()
    assert Notification.objects.filter(status=Status.SENT).count() == 240
    assert fake_twilio.rejected_429 == 0
    assert len(fake_twilio.messages) == 240


def test_the_fake_provider_would_refuse_an_unpaced_burst(world, schedule, fake_twilio, daytime):
    # The control for the test above: at a rate above the provider's, 429s do come back (and
    # are retried later rather than lost).
    MessagingSettings.objects.create(practice=world.practice_a, twilio_from_number="+13125550100",
                                     rate_per_second=5000)
    fake_twilio.max_per_second = 90
    _burst(schedule, 240)
    dispatch.drain_inline()
    assert fake_twilio.rejected_429 > 0
    assert Notification.objects.filter(status=Status.UNDELIVERABLE_RETRY).count() == \
        fake_twilio.rejected_429


def test_the_bucket_is_shared_between_senders_in_different_threads(db):
    # Two threads drawing from one sender's bucket at 50/s get 100 tokens in about 2 s
    # together, not 1 s each: the wait each reports adds up to the shared budget.
    waits = []

    def draw():
        waits.append(sum(sending_rate_acquire(sender="sms:shared-test", rate=50) for _ in range(50)))
        connection.close()

    threads = [threading.Thread(target=draw) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert max(waits) > 1.5
