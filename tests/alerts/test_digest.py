"""Daily digest: alerts wait for one email at 08:00 office time listing the day's alerts."""

from datetime import UTC, datetime, timedelta

import pytest

from payments.services import alert_preference_set
from practices.models import Membership
from tests.alerts.conftest import emails_to

T0 = datetime(2027, 3, 1, 15, 0, tzinfo=UTC)  # Mar 1, 09:00 in Chicago (CST, UTC-6)
NEXT_8AM = datetime(2027, 3, 2, 14, 0, tzinfo=UTC)  # Mar 2, 08:00 in Chicago

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def clock(world, time_machine):
    # The team exists before the travel: the world fixture runs at the real time, months earlier.
    time_machine.move_to(T0, tick=False)
    return time_machine


@pytest.fixture
def staff_a_digest(world):
    membership = Membership.objects.get(user=world.staff_a, practice=world.practice_a)
    for alert in ("declined", "activated", "incomplete"):
        alert_preference_set(membership=membership, alert=alert, enabled=True, delivery="digest")
    return world.staff_a


def test_digest_alerts_arrive_together_at_8_office_time(post_event, send_due, world, staff_a_digest, clock):
    post_event("declined", at=T0, application="fin-1",
               patient={"external_id": "p1", "first_name": "Maria", "last_name": "Garcia"})
    clock.move_to(T0 + timedelta(hours=3), tick=False)
    post_event("activated", at=T0 + timedelta(hours=3), application="fin-2",
               patient={"external_id": "p2", "first_name": "Lee", "last_name": "Chan"})
    assert emails_to(staff_a_digest) == []
    assert len(emails_to(world.admin_ab)) == 2  # a colleague on instant is unaffected
    clock.move_to(NEXT_8AM - timedelta(minutes=1), tick=False)
    send_due()
    assert emails_to(staff_a_digest) == []
    clock.move_to(NEXT_8AM, tick=False)
    send_due()
    [digest] = emails_to(staff_a_digest)
    assert digest.subject == "Your daily alert digest: 2 alerts · Lakeside Dental"
    assert "Maria Garcia's payment-plan application was declined on Mar 1, 2027 at 9:00 AM CST" in digest.body
    assert "Lee Chan activated their payment plan on Mar 1, 2027 at 12:00 PM CST" in digest.body
    clock.move_to(NEXT_8AM + timedelta(minutes=1), tick=False)
    send_due()
    assert len(emails_to(staff_a_digest)) == 1


def test_alerts_after_8_wait_for_the_next_days_digest(post_event, send_due, staff_a_digest, clock):
    clock.move_to(NEXT_8AM + timedelta(minutes=5), tick=False)
    post_event("declined", at=NEXT_8AM + timedelta(minutes=5))
    send_due()
    assert emails_to(staff_a_digest) == []
    clock.move_to(NEXT_8AM + timedelta(days=1), tick=False)
    send_due()
    [digest] = emails_to(staff_a_digest)
    assert digest.subject == "Your daily alert digest: 1 alert · Lakeside Dental"


def test_a_timer_alert_in_digest_mode_goes_into_the_digest(post_event, send_due, staff_a_digest, clock):
    post_event("started", at=T0)
    clock.move_to(T0 + timedelta(days=14), tick=False)
    send_due()
    assert emails_to(staff_a_digest) == []
    clock.move_to(NEXT_8AM + timedelta(days=14), tick=False)
    send_due()
    [digest] = emails_to(staff_a_digest)
    assert "Incomplete application" in digest.body


def test_a_user_deactivated_before_the_digest_gets_none(post_event, send_due, staff_a_digest, clock):
    post_event("declined", at=T0)
    staff_a_digest.is_active = False
    staff_a_digest.save()
    clock.move_to(NEXT_8AM, tick=False)
    send_due()
    assert emails_to(staff_a_digest) == []
