"""When each payment-request message goes: no more than the practice's hourly cap in any clock
hour, and only inside the hours texts may go out.

Hours are counted in `RequestHour` rows (one per practice and UTC hour that has messages due),
so a second send, a resend or the reminders of earlier sends count against the same hours. A
send holds the practice's payment settings row locked while it plans and writes, so two sends
cannot plan the same hours.

Requests are placed one after another from now, `3600 / cap` seconds apart, so an hour's
messages are spread across it rather than bunched at its start; a reminder wants its request's
time plus the days between reminders, and takes the first moment from then in an hour with
room. A moment outside the window (the practice's texting hours in its time zone, within the
legal 08:00-21:00) moves to the window's next opening. Each recipient's own time zone is
still checked by the outbox before the send.
"""

from datetime import UTC, datetime, timedelta

from notifications.models import MessagingSettings
from notifications.quiet_hours import allowed_window, next_allowed

from ..models import RequestHour


def _hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


class Spread:
    def __init__(self, *, practice, cap: int, now: datetime):
        self.practice = practice
        self.cap = max(1, int(cap))
        self.step = timedelta(seconds=3600 / self.cap)
        self.now = now
        self.tz = practice.tz
        messaging = MessagingSettings.objects.filter(practice=practice).first()
        self.window = allowed_window(messaging.quiet_hours_start if messaging else None,
                                     messaging.quiet_hours_end if messaging else None)
        self.used = dict(RequestHour.objects.filter(practice=practice, hour__gte=_hour(now))
                         .values_list("hour", "used"))
        self.changed: set[datetime] = set()
        self.cursor = now

    def _allowed(self, moment: datetime) -> datetime:
        return next_allowed(moment, self.tz, *self.window)

    def take(self, earliest: datetime) -> datetime:
        """The first moment at or after `earliest` inside the window, in an hour with room."""
        moment = self._allowed(max(earliest, self.now))
        while self.used.get(_hour(moment), 0) >= self.cap:
            moment = self._allowed(_hour(moment) + timedelta(hours=1))
        hour = _hour(moment)
        self.used[hour] = self.used.get(hour, 0) + 1
        self.changed.add(hour)
        return moment

    def next_request(self) -> datetime:
        """The next request's moment: after the previous one by the cap's spacing."""
        moment = self.take(self.cursor)
        self.cursor = moment + self.step
        return moment

    def save(self) -> None:
        """Write the hours this plan used (the caller holds the practice's settings lock)."""
        if self.changed:
            RequestHour.objects.bulk_create(
                [RequestHour(practice=self.practice, hour=hour,
                             used=self.used[hour]) for hour in self.changed],
                update_conflicts=True, unique_fields=["practice", "hour"], update_fields=["used"])
            self.changed.clear()
