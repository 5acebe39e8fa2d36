"""The checks made just before each send, and the status event each leaves."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from notifications import dispatch
from notifications.models import MessagingSettings, OptOut, Status
from notifications.quiet_hours import next_allowed
from notifications.services import Recipient

CHICAGO = ZoneInfo("America/Chicago")


def _refreshed(n):
    n.refresh_from_db()
    return n


def _at(local: str, tz=CHICAGO) -> datetime:
    return datetime.fromisoformat(local).replace(tzinfo=tz).astimezone(UTC)


@pytest.mark.parametrize("now,expected", [
    ("2026-06-10 23:30", "2026-06-11 08:00"),  # late evening waits past midnight
    ("2026-06-11 00:10", "2026-06-11 08:00"),  # just after midnight: the same day's morning
    ("2026-06-10 21:00", "2026-06-11 08:00"),  # the end of the window is excluded
    ("2026-06-10 08:00", "2026-06-10 08:00"),  # the start is included
    ("2026-06-10 14:00", "2026-06-10 14:00"),
])
def test_next_allowed_hour_across_midnight(now, expected):
    assert next_allowed(_at(now), CHICAGO, time(8), time(21)) == _at(expected)


def test_next_allowed_hour_across_the_spring_daylight_saving_change():
    # Clocks go from 02:00 CST to 03:00 CDT on 2026-03-08: 08:00 that morning is 13:00 UTC,
    # not 14:00 as it was the day before.
    evening = _at("2026-03-07 22:00")
    assert next_allowed(evening, CHICAGO, time(8), time(21)) == datetime(2026, 3, 8, 13, 0, tzinfo=UTC)
    before = datetime(2026, 3, 7, 12, 0, tzinfo=UTC)  # 06:00 CST
    assert next_allowed(before, CHICAGO, time(8), time(21)) == datetime(2026, 3, 7, 14, 0, tzinfo=UTC)


def test_next_allowed_hour_across_the_autumn_change():
    # 2026-11-01 01:00-02:00 happens twice; 08:00 CST that day is 14:00 UTC.
    assert next_allowed(_at("2026-10-31 23:00"), CHICAGO, time(8), time(21)) == \
        datetime(2026, 11, 1, 14, 0, tzinfo=UTC)


def test_sms_due_at_night_waits_for_the_morning_and_then_goes(world, schedule, settings):
    night = _at("2026-03-07 23:15")
    with time_machine.travel(night, tick=False):
        n = schedule()
        assert dispatch.drain_inline()["waiting"] == 1
    n = _refreshed(n)
    assert n.status == Status.QUEUED
    assert n.send_at == datetime(2026, 3, 8, 13, 0, tzinfo=UTC)
    assert "quiet hours: waits until 2026-03-08 08:00 CDT" in n.events.last().detail
    with time_machine.travel(datetime(2026, 3, 8, 12, 59, tzinfo=UTC), tick=False):
        assert dispatch.drain_inline()["sent"] == 0
    with time_machine.travel(datetime(2026, 3, 8, 13, 0, 30, tzinfo=UTC), tick=False):
        assert dispatch.drain_inline()["sent"] == 1
    assert _refreshed(n).status == Status.SENT


def test_the_recipients_own_time_zone_wins(world, schedule):
    # 14:30 UTC is 09:30 in Chicago (CDT) but 07:30 in Los Angeles (PDT).
    with time_machine.travel(datetime(2026, 6, 10, 14, 30, tzinfo=UTC), tick=False):
        la = schedule(recipient=Recipient(kind="patient", id=5, time_zone="America/Los_Angeles"))
        chicago = schedule(recipient=Recipient(kind="patient", id=6))
        dispatch.drain_inline()
    assert _refreshed(la).status == Status.QUEUED
    assert _refreshed(chicago).status == Status.SENT


def test_a_practice_can_narrow_the_window(world, schedule):
    MessagingSettings.objects.create(practice=world.practice_a, quiet_hours_start=time(10),
                                     quiet_hours_end=time(18))
    with time_machine.travel(_at("2026-06-10 09:30"), tick=False):
        n = schedule()
        dispatch.drain_inline()
    assert _refreshed(n).send_at == _at("2026-06-10 10:00")


def test_email_ignores_quiet_hours(world, schedule):
    with time_machine.travel(_at("2026-06-10 23:30"), tick=False):
        n = schedule(channel="email", address="pat@example.test")
        dispatch.drain_inline()
    assert _refreshed(n).status == Status.SENT


def test_waiting_too_long_for_the_window_means_quiet_hours_expired(world, schedule, settings):
    settings.NOTIFICATIONS_QUIET_HOURS_MAX_WAIT_HOURS = 6
    with time_machine.travel(_at("2026-06-10 22:00"), tick=False):
        n = schedule()
        dispatch.drain_inline()
    n = _refreshed(n)
    assert (n.status, n.reason_code) == (Status.WILL_NOT_SEND, "quiet_hours_expired")


@pytest.mark.parametrize("channel", ["sms", "email"])
def test_opted_out_address_will_not_be_sent(world, schedule, daytime, channel):
    address = "+13125550111" if channel == "sms" else "pat@example.test"
    OptOut.objects.create(practice=world.practice_a, channel=channel, address=address, source="stop")
    n = schedule(channel=channel, address=address)
    other_office = schedule(practice=world.practice_b, channel=channel, address=address)
    dispatch.drain_inline()
    n = _refreshed(n)
    assert (n.status, n.reason_code) == (Status.WILL_NOT_SEND, "opted_out")
    assert n.events.last().reason_code == "opted_out"
    assert _refreshed(other_office).status == Status.SENT


def test_no_consent_no_address_and_add_on_off(world, schedule, daytime):
    world.practice_a.addon_balance_notifications = False
    world.practice_a.save()
    no_consent = schedule(recipient=Recipient(kind="patient", id=1, consent=False))
    no_address = schedule(address="")
    addon_off = schedule(addon="balance_notifications")
    voice_off = schedule(channel="voice")
    dispatch.drain_inline()
    assert [(_refreshed(n).status, n.reason_code) for n in
            (no_consent, no_address, addon_off, voice_off)] == [
        (Status.WILL_NOT_SEND, "no_consent"), (Status.WILL_NOT_SEND, "no_address"),
        (Status.WILL_NOT_SEND, "addon_off"), (Status.WILL_NOT_SEND, "addon_off")]


def test_frequency_cap_counts_sms_and_voice_per_recipient(world, schedule, daytime):
    world.practice_a.addon_voice = True
    world.practice_a.save()
    first = schedule()
    dispatch.drain_inline()
    daytime.shift(timedelta(days=1))
    call = schedule(channel="voice")
    dispatch.drain_inline()
    daytime.shift(timedelta(days=1))
    third = schedule()
    email = schedule(channel="email", address="pat@example.test")
    someone_else = schedule(recipient=Recipient(kind="patient", id=99))
    dispatch.drain_inline()
    assert _refreshed(first).status == Status.SENT and _refreshed(call).status == Status.SENT
    assert (_refreshed(third).status, third.reason_code) == (Status.WILL_NOT_SEND, "frequency_cap")
    assert _refreshed(email).status == Status.SENT
    assert _refreshed(someone_else).status == Status.SENT
    daytime.shift(timedelta(days=6))  # the first text is now more than 7 days old
    again = schedule()
    dispatch.drain_inline()
    assert _refreshed(again).status == Status.SENT


def test_frequency_cap_within_one_chunk(world, schedule, daytime):
    ids = [schedule().pk for _ in range(3)]
    dispatch.drain_inline()
    from notifications.models import Notification

    assert sorted(Notification.objects.filter(pk__in=ids).values_list("status", flat=True)) == [
        Status.SENT, Status.SENT, Status.WILL_NOT_SEND]


def test_practice_frequency_cap_setting(world, schedule, daytime):
    MessagingSettings.objects.create(practice=world.practice_a, frequency_cap=1,
                                     frequency_window_days=30)
    schedule()
    dispatch.drain_inline()
    daytime.shift(timedelta(days=20))
    n = schedule()
    dispatch.drain_inline()
    assert _refreshed(n).reason_code == "frequency_cap"
