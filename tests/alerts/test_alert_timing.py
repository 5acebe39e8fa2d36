"""When each of the five alerts goes out, what cancels it, and late, repeated or out-of-order events."""

from datetime import UTC, datetime, timedelta

import pytest

from payments.models import AlertDelivery, AlertTimer
from tests.alerts.conftest import emails_to

T0 = datetime(2027, 3, 1, 15, 0, tzinfo=UTC)  # 09:00 at Lakeside (America/Chicago, CST)
DAY = timedelta(days=1)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def clock(world, time_machine):
    # The team exists before the travel: the world fixture runs at the real time, months earlier.
    time_machine.move_to(T0, tick=False)
    return time_machine


@pytest.mark.parametrize(("event", "label"), [
    ("declined", "Declined application"),
    ("activated", "Payment plan activated"),
    ("prequalified", "Pre-qualified"),
])
def test_immediate_alerts_go_to_every_member_of_the_office_at_once(post_event, world, event, label):
    assert post_event(event, at=T0 - timedelta(minutes=2)).status_code == 202
    for member in (world.admin_ab, world.staff_a):
        [email] = emails_to(member)
        assert email.subject == f"{label}: Maria G. · Lakeside Dental"
    for outsider in (world.staff_c, world.admin_c):
        assert emails_to(outsider) == []


def test_the_email_names_the_patient_what_happened_when_in_office_time_and_links_to_it(post_event, world):
    post_event("declined", at=T0, application="fin-9")
    [email] = emails_to(world.staff_a)
    html = dict((mimetype, content) for content, mimetype in email.alternatives)["text/html"]
    assert "Maria Garcia's payment-plan application was declined on Mar 1, 2027 at 9:00 AM CST" in email.body
    assert "Maria Garcia" in html
    from payments.models import Application

    application = Application.objects.get(external_id="fin-9")
    link = f"/patients/{application.patient_id}/?office=lakeside"
    assert link in email.body and link in html
    assert "$" not in email.body + html  # no amounts


def test_incomplete_alert_goes_14_days_after_started(post_event, send_due, world, clock):
    post_event("started", at=T0)
    clock.move_to(T0 + 14 * DAY - timedelta(seconds=1), tick=False)
    send_due()
    assert emails_to(world.staff_a) == []
    clock.move_to(T0 + 14 * DAY, tick=False)
    send_due()
    [email] = emails_to(world.staff_a)
    assert email.subject == "Incomplete application: Maria G. · Lakeside Dental"
    assert "started a payment-plan application on Mar 1, 2027 at 9:00 AM CST" in email.body
    assert len(emails_to(world.admin_ab)) == 1


def test_the_timer_job_runs_twice_and_sends_once(post_event, send_due, world, clock):
    post_event("started", at=T0)
    clock.move_to(T0 + 15 * DAY, tick=False)
    send_due()
    send_due()
    assert len(emails_to(world.staff_a)) == 1
    assert AlertDelivery.objects.filter(user=world.staff_a).count() == 1


@pytest.mark.parametrize("cancelling", ["completed", "declined", "approved", "activated", "prequalified"])
def test_incomplete_alert_is_cancelled_by_a_later_step_before_14_days(post_event, send_due, world, clock,
                                                                      cancelling):
    post_event("started", at=T0)
    clock.move_to(T0 + 13 * DAY, tick=False)
    post_event(cancelling, at=T0 + 13 * DAY)
    clock.move_to(T0 + 20 * DAY, tick=False)
    send_due()
    assert emails_to(world.staff_a, "Incomplete") == []
    assert AlertTimer.objects.get(alert="incomplete").status == "cancelled"


def test_a_completion_after_the_due_time_does_not_cancel_the_incomplete_alert(post_event, send_due, world,
                                                                              clock):
    post_event("started", at=T0)
    clock.move_to(T0 + 14 * DAY + timedelta(hours=2), tick=False)  # no tick ran in between
    post_event("completed", at=T0 + 14 * DAY + timedelta(hours=1))
    send_due()
    assert len(emails_to(world.staff_a, "Incomplete")) == 1


def test_open_approval_alert_goes_48_hours_after_approved(post_event, send_due, world, clock):
    post_event("approved", at=T0)
    clock.move_to(T0 + timedelta(hours=47, minutes=59), tick=False)
    send_due()
    assert emails_to(world.staff_a) == []
    clock.move_to(T0 + timedelta(hours=48), tick=False)
    send_due()
    [email] = emails_to(world.staff_a)
    assert email.subject == "Open approval: Maria G. · Lakeside Dental"


def test_open_approval_is_cancelled_by_activation_before_48_hours(post_event, send_due, world, clock):
    post_event("approved", at=T0)
    clock.move_to(T0 + 47 * timedelta(hours=1), tick=False)
    post_event("activated", at=T0 + 47 * timedelta(hours=1))
    clock.move_to(T0 + 3 * DAY, tick=False)
    send_due()
    subjects = [m.subject for m in emails_to(world.staff_a)]
    assert subjects == ["Payment plan activated: Maria G. · Lakeside Dental"]


def test_activation_reported_after_the_open_approval_alert_does_not_resend_it(post_event, send_due, world,
                                                                              clock):
    post_event("approved", at=T0)
    clock.move_to(T0 + 2 * DAY, tick=False)
    send_due()
    post_event("activated", at=T0 + timedelta(hours=5))  # happened before, reported after the alert
    send_due()
    subjects = sorted(m.subject.split(":")[0] for m in emails_to(world.staff_a))
    assert subjects == ["Open approval", "Payment plan activated"]


def test_a_started_reported_15_days_late_is_alerted_on_the_next_tick(post_event, send_due, world):
    post_event("started", at=T0 - 15 * DAY)
    assert emails_to(world.staff_a) == []  # not in the request itself
    send_due()
    assert len(emails_to(world.staff_a, "Incomplete")) == 1


def test_an_earlier_started_after_the_alert_went_out_does_not_send_it_again(post_event, send_due, world,
                                                                            clock):
    post_event("started", at=T0)
    clock.move_to(T0 + 15 * DAY, tick=False)
    send_due()
    post_event("started", at=T0 - DAY)
    send_due()
    assert len(emails_to(world.staff_a, "Incomplete")) == 1


def test_out_of_order_activation_before_approval_cancels_the_open_approval(post_event, send_due, world,
                                                                           clock):
    post_event("activated", at=T0)
    post_event("approved", at=T0 - timedelta(hours=2))
    clock.move_to(T0 + 3 * DAY, tick=False)
    send_due()
    assert emails_to(world.staff_a, "Open approval") == []
    assert len(emails_to(world.staff_a, "Payment plan activated")) == 1


def test_a_duplicate_event_sends_nothing_more(post_event, world):
    assert post_event("declined", at=T0, event_id="d-1").status_code == 202
    assert post_event("declined", at=T0, event_id="d-1").status_code == 200
    assert len(emails_to(world.staff_a)) == 1


def test_each_alert_goes_once_per_application_even_for_a_second_event_of_its_type(post_event, world):
    post_event("declined", at=T0 - DAY, application="fin-1")
    post_event("declined", at=T0, application="fin-1")
    post_event("declined", at=T0, application="fin-2")
    assert len(emails_to(world.staff_a)) == 2
