"""The checks made just before each send, for a chunk of rows at once.

Order: still wanted, address, add-on, consent, opt-out, frequency cap (SMS and voice), quiet
hours (SMS and voice). The first that fails decides; each decision becomes a status event.

"Still wanted?" is asked of the apps that queued the messages, without importing them: each
dotted path in settings.NOTIFICATIONS_STILL_WANTED is called once per chunk as `hook(rows)` and
answers `{notification id: (reason code, detail)}` for the rows it no longer wants sent (a
statement superseded by a newer one, a balance paid). Rows without an id (the cadence preview's
planned messages) are never asked about.
"""

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils.module_loading import import_string

from .models import Channel, MessagingSettings, Notification, OptOut, ReasonCode
from .quiet_hours import allowed_window, next_allowed
from .sql import among, run

PHONE_CHANNELS = (Channel.SMS, Channel.VOICE)
_TABLE = Notification._meta.db_table


@dataclass(frozen=True)
class Decision:
    action: str  # "send", "refuse" or "wait"
    reason_code: str = ""
    detail: str = ""
    until: datetime | None = None


SEND = Decision("send", detail="contact policy passed")


def still_wanted_answers(rows) -> dict[int, tuple[str, str]]:
    """The rows the queuing apps no longer want sent: id -> (reason code, detail)."""
    asked = [n for n in rows if n.pk]
    answers: dict[int, tuple[str, str]] = {}
    if not asked:
        return answers
    for path in settings.NOTIFICATIONS_STILL_WANTED:
        for pk, answer in import_string(path)(asked).items():
            answers.setdefault(pk, answer)
    return answers


class PolicyContext:
    """What the checks need for a chunk, read in a handful of queries."""

    def __init__(self, rows: list[Notification], now: datetime):
        self.now = now
        practice_ids = {n.practice_id for n in rows}
        self.settings = {s.practice_id: s for s in
                         MessagingSettings.objects.filter(practice_id__in=practice_ids)}
        addresses = {n.address for n in rows if n.address}
        self.opted_out = set(OptOut.objects.filter(
            practice_id__in=practice_ids, address__in=addresses).values_list(
            "practice_id", "channel", "address"))
        self.sent_counts = self.recent_sends([n for n in rows if n.channel in PHONE_CHANNELS])
        self.unwanted = still_wanted_answers(rows)

    def recent_sends(self, rows: list[Notification]) -> Counter:
        """Texts and calls per recipient of `rows` within each practice's cap window, as the
        database has them now: sent, or taken for an attempt (the take writes `sent_at`)."""
        counts = Counter()
        wanted: dict[tuple, set] = {}
        for n in rows:
            wanted.setdefault((n.practice_id, n.recipient_kind), set()).add(n.recipient_id)
        for (practice_id, kind), ids in wanted.items():
            _, window_days = self.cap(practice_id)
            # practice, kind and ids lead the partial index notif_recipient_sent_idx.
            recipients, args = among("recipient_id", ids)
            found = run(f"SELECT recipient_id, COUNT(*) FROM {_TABLE} WHERE practice_id = %s "  # noqa: S608
                        f"AND recipient_kind = %s AND {recipients} AND channel IN (%s, %s) "
                        "AND sent_at >= %s GROUP BY recipient_id",
                        [practice_id, kind, *args, *PHONE_CHANNELS,
                         self.now - timedelta(days=window_days)])
            for recipient_id, n in found:
                counts[(practice_id, kind, recipient_id)] = n
        return counts

    def cap(self, practice_id) -> tuple[int, int]:
        s = self.settings.get(practice_id)
        if s is None:
            return settings.NOTIFICATIONS_FREQUENCY_CAP, settings.NOTIFICATIONS_FREQUENCY_DAYS
        return s.frequency_cap, s.frequency_window_days

    def record_sent(self, n: Notification) -> None:
        if n.channel in PHONE_CHANNELS:
            self.sent_counts[(n.practice_id, n.recipient_kind, n.recipient_id)] += 1

    def decide(self, n: Notification) -> Decision:
        practice = n.practice
        unwanted = self.unwanted.get(n.pk) if n.pk else None
        if unwanted:
            return Decision("refuse", unwanted[0], unwanted[1])
        if not n.address:
            return Decision("refuse", ReasonCode.NO_ADDRESS, "no address for this channel")
        if n.addon and not getattr(practice, f"addon_{n.addon}", False):
            return Decision("refuse", ReasonCode.ADDON_OFF, f"the {n.addon} add-on is off")
        if n.channel == Channel.VOICE and n.recipient_kind == "patient" and not practice.addon_voice:
            return Decision("refuse", ReasonCode.ADDON_OFF, "the voice add-on is off")
        if not n.consent:
            return Decision("refuse", ReasonCode.NO_CONSENT, f"no consent for {n.channel}")
        if (n.practice_id, n.channel, n.address) in self.opted_out:
            return Decision("refuse", ReasonCode.OPTED_OUT, f"{n.address} opted out of {n.channel}")
        if n.channel not in PHONE_CHANNELS:
            return SEND
        cap, days = self.cap(n.practice_id)
        sent = self.sent_counts[(n.practice_id, n.recipient_kind, n.recipient_id)]
        if sent >= cap:
            return Decision("refuse", ReasonCode.FREQUENCY_CAP,
                            f"{sent} texts/calls in the last {days} days (cap {cap})")
        s = self.settings.get(n.practice_id)
        start, end = allowed_window(s.quiet_hours_start if s else None,
                                    s.quiet_hours_end if s else None)
        tz = ZoneInfo(n.recipient_time_zone or practice.time_zone)
        at = next_allowed(self.now, tz, start, end)
        if at == self.now:
            return SEND
        first_due = n.first_due_at or n.send_at
        if at - first_due > timedelta(hours=settings.NOTIFICATIONS_QUIET_HOURS_MAX_WAIT_HOURS):
            return Decision("refuse", ReasonCode.QUIET_HOURS_EXPIRED,
                            "the next allowed hour is too long after the message was due")
        local = at.astimezone(tz)
        return Decision("wait", detail=f"quiet hours: waits until {local:%Y-%m-%d %H:%M %Z} "
                        f"({start:%H:%M}-{end:%H:%M} {tz.key})", until=at)


def decisions_ahead(rows: list, *, now: datetime) -> list[tuple]:
    """What the engine would decide for each row when it comes due, if nothing else changed:
    (row, decision, when) in time order.

    The decisions are `PolicyContext.decide`'s own. Each row is judged at its due time (now for
    a time already past), with the texts and calls sent before it in its cap window counted,
    including the earlier rows that would go; a quiet-hours wait is followed to the time it
    moves to. Rows are plain objects with the attributes delivery reads (a row without an id
    is a planned message, never asked "still wanted?").
    """
    ctx = PolicyContext(rows, now)
    windows = {n.practice_id: timedelta(days=ctx.cap(n.practice_id)[1]) for n in rows}
    history: dict[tuple, list[datetime]] = {}
    phone_rows = [n for n in rows if n.channel in PHONE_CHANNELS]
    wanted: dict[tuple, set] = {}
    for n in phone_rows:
        wanted.setdefault((n.practice_id, n.recipient_kind), set()).add(n.recipient_id)
    for (practice_id, kind), ids in wanted.items():
        recipients, args = among("recipient_id", ids)
        for recipient_id, sent_at in run(
                f"SELECT recipient_id, sent_at FROM {_TABLE} WHERE practice_id = %s "  # noqa: S608
                f"AND recipient_kind = %s AND {recipients} AND channel IN (%s, %s) AND sent_at >= %s",
                [practice_id, kind, *args, *PHONE_CHANNELS, now - windows[practice_id]]):
            if sent_at.tzinfo is None:  # SQLite gives a raw query's times as naive UTC
                sent_at = sent_at.replace(tzinfo=UTC)
            history.setdefault((practice_id, kind, recipient_id), []).append(sent_at)
    decided = []
    for n in sorted(rows, key=lambda r: max(r.send_at, now)):
        at = max(n.send_at, now)
        key = (n.practice_id, n.recipient_kind, n.recipient_id)
        for _ in range(4):  # a wait moves it to the next allowed hour, which is then judged
            ctx.now = at
            start = at - windows[n.practice_id]
            ctx.sent_counts[key] = sum(1 for t in history.get(key, ()) if start <= t <= at)
            decision = ctx.decide(n)
            if decision.action != "wait":
                break
            at = decision.until
        if decision.action == "send" and n.channel in PHONE_CHANNELS:
            history.setdefault(key, []).append(at)
        decided.append((n, decision, at))
    return decided
