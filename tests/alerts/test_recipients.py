"""Who gets an alert: the office's active members, on the team at the time, with the alert on."""

from datetime import UTC, datetime, timedelta

import pytest

from payments.models import AlertPreference
from payments.services import alert_preference_set
from practices.models import Membership, Role
from tests.alerts.conftest import emails_to
from tests.factories import UserFactory

T0 = datetime(2027, 3, 1, 15, 0, tzinfo=UTC)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def clock(world, time_machine):
    # The team exists before the travel: the world fixture runs at the real time, months earlier.
    time_machine.move_to(T0, tick=False)
    return time_machine


def _membership(user, practice):
    return Membership.objects.get(user=user, practice=practice)


def test_a_member_with_the_alert_off_gets_nothing_while_a_colleague_does(post_event, world):
    alert_preference_set(membership=_membership(world.staff_a, world.practice_a), alert="declined",
                         enabled=False, delivery="instant")
    post_event("declined", at=T0)
    assert emails_to(world.staff_a) == []
    assert len(emails_to(world.admin_ab)) == 1


def test_turning_one_alert_off_leaves_the_others_on(post_event, world):
    alert_preference_set(membership=_membership(world.staff_a, world.practice_a), alert="declined",
                         enabled=False, delivery="instant")
    post_event("activated", at=T0)
    assert len(emails_to(world.staff_a)) == 1


def test_preferences_are_per_office(post_event, world):
    alert_preference_set(membership=_membership(world.admin_ab, world.practice_a), alert="declined",
                         enabled=False, delivery="instant")
    post_event("declined", at=T0, office="a")
    post_event("declined", at=T0, office="b")
    subjects = [m.subject for m in emails_to(world.admin_ab)]
    assert subjects == ["Declined application: Maria G. · Hillcrest Dental"]


def test_an_office_alert_never_reaches_members_of_other_offices(post_event, world):
    post_event("declined", at=T0, office="b")
    assert len(emails_to(world.admin_ab)) == 1
    for other in (world.staff_a, world.staff_c, world.admin_c):
        assert emails_to(other) == []


def test_a_member_added_later_gets_only_later_alerts(post_event, send_due, world, clock):
    post_event("started", at=T0 - timedelta(hours=1), application="fin-1")
    clock.move_to(T0 + timedelta(hours=1), tick=False)
    newcomer = UserFactory(email="new.hire@example.test")
    Membership.objects.create(user=newcomer, practice=world.practice_a, role=Role.STAFF)
    clock.move_to(T0 + timedelta(hours=2), tick=False)
    # Happened before they joined but reported after: the alert is raised now, so they get it.
    post_event("declined", at=T0 - timedelta(minutes=30), application="fin-2")
    post_event("activated", at=T0 + timedelta(hours=2), application="fin-3")
    clock.move_to(T0 + timedelta(days=15), tick=False)
    send_due()  # the incomplete alert for fin-1 is due after they joined
    subjects = sorted(m.subject.split(":")[0] for m in emails_to(newcomer))
    assert subjects == ["Declined application", "Incomplete application", "Payment plan activated"]
    assert len(emails_to(world.staff_a)) == 3


def test_an_alert_that_went_out_before_someone_joined_never_reaches_them(post_event, world, clock):
    post_event("declined", at=T0, application="fin-1")
    clock.move_to(T0 + timedelta(hours=1), tick=False)
    newcomer = UserFactory(email="new.hire@example.test")
    Membership.objects.create(user=newcomer, practice=world.practice_a, role=Role.STAFF)
    clock.move_to(T0 + timedelta(hours=2), tick=False)
    # The provider reports the decline again under a new event id: nobody is alerted twice,
    # and the newcomer does not get an alert that went out before they joined.
    post_event("declined", at=T0, application="fin-1")
    assert emails_to(newcomer) == []
    assert len(emails_to(world.staff_a)) == 1


def test_an_event_reported_long_after_it_happened_still_alerts_the_team(post_event, send_due, world,
                                                                        clock):
    # The whole team joined at T0 (the fixtures); the application started 20 days earlier.
    post_event("started", at=T0 - timedelta(days=20), application="fin-old")
    send_due()  # its 14-day wait is long over: alerted on the next run
    assert len(emails_to(world.staff_a, "Incomplete")) == 1


def test_a_deactivated_user_gets_no_alerts(post_event, send_due, world, clock):
    world.staff_a.is_active = False
    world.staff_a.save()
    post_event("declined", at=T0, application="fin-1")
    post_event("started", at=T0, application="fin-2")
    clock.move_to(T0 + timedelta(days=15), tick=False)
    send_due()
    assert emails_to(world.staff_a) == []
    assert len(emails_to(world.admin_ab)) == 2


def test_default_preferences_are_all_five_on_instant(world):
    assert not AlertPreference.objects.exists()
    from payments.selectors import alert_preferences

    rows = alert_preferences(membership=_membership(world.staff_a, world.practice_a))
    assert [(r.alert, r.mode) for r in rows] == [
        ("incomplete", "instant"), ("declined", "instant"), ("open_approval", "instant"),
        ("activated", "instant"), ("prequalified", "instant")]
