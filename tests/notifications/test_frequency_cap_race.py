"""The frequency cap holds when two deliveries to one recipient run at the same moment.

Each thread is its own database session, as two worker processes would be. Both read the
recipient's count before either has sent (the fake provider takes a moment to answer), so only
the per-recipient serialisation at the take can stop the second text.
"""

import threading

import pytest
from django.db import connection

from notifications import dispatch
from notifications.models import MessagingSettings, Notification, NotificationEvent, Status


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("cap", [1, 2])
def test_two_deliveries_racing_on_one_recipient_send_at_most_the_cap(world, fake_twilio, schedule,
                                                                   daytime, cap):
    MessagingSettings.objects.create(practice=world.practice_a, frequency_cap=cap,
                                     frequency_window_days=7)
    fake_twilio.delay = 0.4  # both contact-policy reads happen while the first send is in flight
    racing = [schedule(idempotency_key=f"race-{i}") for i in range(cap + 1)]
    start = threading.Barrier(len(racing))
    results, errors = [], []

    def deliver(pk):
        try:
            start.wait(timeout=10)
            results.append(dispatch.deliver([pk]))
        except Exception as exc:  # surfaced below: a thread's failure must fail the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver, args=(n.pk,)) for n in racing]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors, errors
    assert len(results) == len(racing)
    assert len(fake_twilio.messages) == cap
    statuses = sorted(Notification.objects.filter(pk__in=[n.pk for n in racing])
                      .values_list("status", flat=True))
    assert statuses == sorted([Status.SENT] * cap + [Status.WILL_NOT_SEND])
    refused = Notification.objects.get(pk__in=[n.pk for n in racing], status=Status.WILL_NOT_SEND)
    assert refused.reason_code == "frequency_cap"
    assert NotificationEvent.objects.filter(notification=refused, status=Status.WILL_NOT_SEND,
                                            reason_code="frequency_cap").count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_failed_attempt_does_not_count_toward_the_cap(world, fake_twilio, schedule, daytime):
    """The take counts an attempt in flight; a temporary error gives that count back."""
    MessagingSettings.objects.create(practice=world.practice_a, frequency_cap=1)
    fake_twilio.fail_next = [(503, 20500)]
    first = schedule(idempotency_key="flaky")
    dispatch.deliver([first.pk])
    first.refresh_from_db()
    assert first.status == Status.UNDELIVERABLE_RETRY and first.sent_at is None
    second = schedule(idempotency_key="after-flaky")
    assert dispatch.deliver([second.pk])["sent"] == 1
