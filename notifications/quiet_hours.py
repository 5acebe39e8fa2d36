"""When SMS and voice may reach a recipient: 08:00-21:00 in their local time, or a narrower
window a practice sets. Times are computed in the recipient's zone, so a message due at 23:00
waits for 08:00 the next day and a daylight-saving change moves the UTC instant, not the local
hour."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

LEGAL_START = time(8, 0)
LEGAL_END = time(21, 0)


def allowed_window(start: time | None, end: time | None) -> tuple[time, time]:
    """The practice's window clipped to the legal one (a practice can only narrow it)."""
    s = max(LEGAL_START, start or LEGAL_START)
    e = min(LEGAL_END, end or LEGAL_END)
    if s >= e:  # a nonsensical setting falls back to the legal window rather than never sending
        return LEGAL_START, LEGAL_END
    return s, e


def local_instant(day, at: time, tz: ZoneInfo) -> datetime:
    candidate = datetime.combine(day, at, tzinfo=tz)
    # A start inside a daylight-saving gap (clocks jump over it) means the first instant after.
    round_trip = candidate.astimezone(ZoneInfo("UTC")).astimezone(tz)
    if round_trip.replace(tzinfo=None) != candidate.replace(tzinfo=None):
        return round_trip
    return candidate


def next_allowed(now: datetime, tz: ZoneInfo, start: time, end: time) -> datetime:
    """`now` if it is inside [start, end) local time, else the next local `start`."""
    local = now.astimezone(tz)
    if start <= local.time() < end:
        return now
    day = local.date() if local.time() < start else local.date() + timedelta(days=1)
    return local_instant(day, start, tz).astimezone(ZoneInfo("UTC"))
