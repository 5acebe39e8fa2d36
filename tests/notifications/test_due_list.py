"""The due list: what the dispatcher claims, and how entries come and go."""

from datetime import timedelta

from django.utils import timezone

from notifications import dispatch
from notifications.models import NotificationDue, Status
from notifications.services import notification_cancel, notification_retry


def _entry(n):
    return NotificationDue.objects.filter(notification=n).first()


def test_a_claimed_entry_is_not_claimed_again_until_its_lease_ends(world, schedule, daytime,
                                                                   settings):
    n = schedule()
    assert dispatch.claim_due() == [n.pk]
    assert dispatch.claim_due() == []  # its task is on its way
    n.refresh_from_db()
    assert n.status == Status.QUEUED  # the row itself is claimed by the task
    # The task was lost: after the claim lease the entry is due again.
    daytime.shift(timedelta(seconds=settings.NOTIFICATIONS_CLAIM_LEASE_SECONDS + 1))
    assert dispatch.claim_due() == [n.pk]
    assert dispatch.deliver([n.pk])["sent"] == 1
    assert _entry(n) is None


def test_the_task_keeps_the_entry_of_a_row_that_is_not_due_yet(world, schedule, daytime):
    later = schedule(send_at=timezone.now() + timedelta(hours=3))
    assert dispatch.claim_ids([later.pk]) == []
    assert _entry(later).due_at == later.send_at


def test_entries_follow_cancel_retry_and_temporary_errors(world, fake_twilio, schedule, daytime):
    cancelled = schedule(idempotency_key="cancel-me", send_at=timezone.now() + timedelta(days=1))
    notification_cancel(notification=cancelled)
    assert _entry(cancelled) is None

    fake_twilio.fail_next = [(503, 20500)]
    flaky = schedule(idempotency_key="flaky")
    dispatch.deliver([flaky.pk])
    flaky.refresh_from_db()
    assert flaky.status == Status.UNDELIVERABLE_RETRY
    assert _entry(flaky).due_at == flaky.send_at > timezone.now()

    fake_twilio.errors_for["+13125550199"] = (400, 21211)
    failed = schedule(idempotency_key="invalid", address="+13125550199")
    dispatch.deliver([failed.pk])
    failed.refresh_from_db()
    assert failed.status == Status.UNDELIVERABLE_PERMANENT and _entry(failed) is None
    notification_retry(notification=failed)
    assert _entry(failed).due_at <= timezone.now()


def test_an_entry_whose_row_no_longer_waits_is_dropped_by_the_task(world, schedule, daytime):
    n = schedule()
    n.__class__.objects.filter(pk=n.pk).update(status=Status.SENT)
    assert dispatch.claim_due() == [n.pk]
    assert dispatch.deliver([n.pk])["sent"] == 0
    assert _entry(n) is None


def test_the_sweep_puts_back_a_waiting_row_that_lost_its_entry_and_says_so(world, schedule, daytime,
                                                                         capsys):
    from django.core.management import call_command

    from notifications.due import due_list_repair

    lost = schedule(idempotency_key="lost")
    later = schedule(idempotency_key="later", send_at=timezone.now() + timedelta(hours=2))
    listed = schedule(idempotency_key="listed")
    done = schedule(idempotency_key="done")
    done.__class__.objects.filter(pk=done.pk).update(status=Status.SENT)
    NotificationDue.objects.filter(notification__in=[lost, later, done]).delete()
    assert dispatch.claim_due() == [listed.pk]  # the lost row would wait for ever

    assert due_list_repair() == {"repaired": 2}
    assert _entry(lost).due_at == lost.send_at and _entry(later).due_at == later.send_at
    assert _entry(done) is None
    assert due_list_repair() == {"repaired": 0}

    NotificationDue.objects.filter(notification=lost).delete()
    call_command("send_due")
    assert "notifications.due.due_list_repair: repaired 1" in capsys.readouterr().out
    lost.refresh_from_db()
    assert lost.status == Status.SENT
