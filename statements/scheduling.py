"""From a statement and a profile's proof to the messages it causes.

The rules here are the ones the batch ingestion writes rows by, and the ones the proof and the
cadence preview show, so the screens cannot drift from what is sent:

1. The steps that apply: those of the highest level defined at or below the guarantor's dunning
   count (level 3 of Standard serves every count from 3 up).
2. Whether the guarantor can receive each step's channel: an address for it and that channel's
   consent; a call also needs the voice add-on. A step they cannot receive queues nothing.
3. When it goes: the step's day (statement date + N, or due date +/- N) at its time of day in
   the recipient's time zone (theirs when the PMS knows it, else the office's). A daylight-
   saving change moves the UTC instant, never the local hour; a time inside the spring-forward
   gap becomes the first instant after it.
4. What it says: the step's template version rendered over plain values (the guarantor's first
   and last name, the office, the statement's amounts and dates, the payment link and, in an
   email, the unsubscribe link).
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

from notifications.message_templates import template_versions_get
from notifications.quiet_hours import local_instant
from notifications.rendering import CompiledTemplate, compiled, fields_used
from notifications.schedule_many import Outgoing
from notifications.unsubscribe import unsubscribe_url_for_key
from practices.templatetags.portal import money, phone

from .links import DrawnLinks, LinkRequest, message_links_drawn
from .models import BALANCE_KIND, statement_key

ADDRESSEE_FIELDS = ("id", "first_name", "last_name", "email", "mobile_phone", "home_phone", "time_zone",
                    "consent_email", "consent_sms", "consent_voice")


@dataclass(slots=True)
class Addressee:
    """What the rules need of a guarantor, as plain values."""

    id: int
    first_name: str
    last_name: str
    email: str
    mobile_phone: str
    home_phone: str
    time_zone: str
    consent_email: bool
    consent_sms: bool
    consent_voice: bool

    @classmethod
    def of(cls, patient) -> "Addressee":
        return cls(*(getattr(patient, name) for name in ADDRESSEE_FIELDS))

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


_CONSENT_NOUN = {"email": "email", "sms": "texts", "voice": "calls"}


def channel_address(a: Addressee, channel: str, practice) -> tuple[str, str]:
    """(address, "") when the guarantor can receive the channel, else ("", why not)."""
    if channel == "email":
        address, consent, noun = a.email, a.consent_email, "email address"
    elif channel == "sms":
        address, consent, noun = a.mobile_phone, a.consent_sms, "mobile number"
    else:
        if not practice.addon_voice:
            return "", "the voice add-on is off"
        address, consent, noun = a.home_phone or a.mobile_phone, a.consent_voice, "phone number"
    if not address:
        return "", f"no {noun}"
    if not consent:
        return "", f"no consent for {_CONSENT_NOUN[channel]}"
    return address, ""


def steps_at_level(steps: list[dict], count: int) -> list[dict]:
    """The steps of the highest level defined at or below `count` (none for a count of 0)."""
    levels = [level for level in sorted({s["level"] for s in steps}) if level <= count]
    return [s for s in steps if s["level"] == levels[-1]] if levels else []


@lru_cache(maxsize=4096)
def _instant(day: date, at: str, tz_name: str) -> datetime:
    hour, minute = map(int, at.split(":"))
    return local_instant(day, time(hour, minute), ZoneInfo(tz_name)).astimezone(UTC)


def step_time(step: dict, *, statement_date: date, due_date: date, tz_name: str) -> datetime:
    anchor = statement_date if step["anchor"] == "statement_date" else due_date
    return _instant(anchor + timedelta(days=step["offset_days"]), step["at"], tz_name)


@lru_cache(maxsize=2048)
def _day_text(day: date) -> str:
    return f"{day:%b} {day.day}, {day.year}"


def statement_values(*, statement_date: date, due_date: date, amount_due: Decimal, balance: Decimal) -> dict:
    return {"amount_due": money(amount_due), "balance": money(balance),
            "statement_date": _day_text(statement_date), "due_date": _day_text(due_date)}


def practice_values(practice) -> dict:
    return {"name": practice.name, "phone": phone(practice.phone), "address": " ".join(
        line.strip() for line in (practice.address or "").splitlines() if line.strip())}


@dataclass(slots=True)
class Step:
    """A proof step with its template version compiled."""

    data: dict
    subject: CompiledTemplate | None
    body: CompiledTemplate
    wants_link: bool
    wants_unsubscribe: bool
    id_text: str = ""  # the step's id as a statement's `steps` column lists it


class ProofSteps(dict):
    """Step id -> Step, with the steps of each dunning count worked out once, and their send
    times once for each pair of dates and time zone (a batch's statements share a handful)."""

    def at_level(self, count: int) -> list[dict]:
        memo = self.__dict__.setdefault("_levels", {})
        if count not in memo:
            memo[count] = steps_at_level([s.data for s in self.values()], count)
        return memo[count]

    def timed(self, count: int, statement_date: date, due_date: date, tz_name: str) -> list[tuple]:
        """(step data, Step, send time) of each step at dunning count `count`."""
        memo = self.__dict__.setdefault("_timed", {})
        key = (count, statement_date, due_date, tz_name)
        found = memo.get(key)
        if found is None:
            if len(memo) >= 4096:
                memo.clear()
            found = memo[key] = [
                (data, self[data["id"]], step_time(data, statement_date=statement_date, due_date=due_date,
                                                   tz_name=tz_name))
                for data in self.at_level(count)]
        return found


def proof_steps(steps: list[dict]) -> ProofSteps:
    """Step id -> Step for a proof's steps (their pinned template versions, one query)."""
    versions = template_versions_get(pairs={(s["template_id"], s["template_version"]) for s in steps})
    found = ProofSteps()
    for s in steps:
        version = versions.get((s["template_id"], s["template_version"]))
        if version is None:  # a template deleted since: the step cannot render, so it is left out
            continue
        used = fields_used(version.body) | (fields_used(version.subject) if version.subject else set())
        found[s["id"]] = Step(s, compiled(version.subject) if version.subject else None,
                              compiled(version.body), "quickpay_link" in used, "unsubscribe_link" in used,
                              str(s["id"]))
    return found


@dataclass(slots=True)
class Planned:
    """One message a statement causes, or would cause if its channel were receivable."""

    statement_id: int | None
    step: Step
    addressee: Addressee
    address: str
    why_not: str  # "" when it can be received
    send_at: datetime
    values: dict  # the statement's merge values
    level: int
    key: str = ""  # the outbox row's idempotency key, once the statement is known

    def __post_init__(self):
        if self.statement_id is not None:
            self.attach(self.statement_id)

    def attach(self, statement_id: int) -> None:
        """The statement written for this message (its key follows)."""
        self.statement_id = statement_id
        self.key = statement_key(statement_id, self.step.data["id"])


def plan_statement(*, practice, steps: ProofSteps, count: int, addressee: Addressee,
                   statement_id: int | None, statement_date: date, due_date: date, amount_due: Decimal,
                   balance: Decimal, practice_tz: str) -> list[Planned]:
    """Every step that applies to a statement at dunning count `count`, receivable or not."""
    values = statement_values(statement_date=statement_date, due_date=due_date, amount_due=amount_due,
                              balance=balance)
    planned = []
    tz_name = addressee.time_zone or practice_tz
    for data, step, send_at in steps.timed(count, statement_date, due_date, tz_name):
        address, why = channel_address(addressee, data["channel"], practice)
        planned.append(Planned(statement_id, step, addressee, address, why, send_at, values, count))
    return planned


def render(planned: list[Planned], *, practice, links: list[str] | None = None,
           samples: dict | None = None) -> list[tuple[str, str]]:
    """(subject, body) of each planned message; `links` as `message_links` gave them, one per
    message that wants one, in order. A proof passes `samples` for the links instead."""
    office = practice_values(practice)
    links_iter = iter(links or [])
    out = []
    for p in planned:
        if samples:
            link, unsubscribe = samples["quickpay_link"], samples["unsubscribe_link"]
        else:
            link = next(links_iter) if p.step.wants_link else ""
            unsubscribe = unsubscribe_url_for_key(p.key) if p.step.wants_unsubscribe else ""
        values = {"patient": {"first_name": p.addressee.first_name, "last_name": p.addressee.last_name},
                  "practice": office, "statement": p.values, "quickpay_link": link,
                  "unsubscribe_link": unsubscribe}
        subject = p.step.subject.render(values) if p.step.subject else ""
        out.append((subject, p.step.body.render(values)))
    return out


def _link_requests(planned: list[Planned]) -> list[LinkRequest]:
    return [LinkRequest(guarantor_id=p.addressee.id, notification_key=p.key, source="statement",
                        channel=p.step.data["channel"], dunning_level=p.level)
            for p in planned if p.step.wants_link]


def links_drawn(planned: list[Planned], *, practice, settings=None) -> tuple[list[str], DrawnLinks | None]:
    """The payment links of the planned messages that want one, drawn and not yet stored (see
    links.message_links_drawn; with the practice's payment `settings`, nothing is read)."""
    return message_links_drawn(practice=practice, items=_link_requests(planned), settings=settings)


def outgoing(planned: list[Planned], *, practice, tag: str, reason: str, links: list[str]) -> list[Outgoing]:
    """The outbox rows of receivable planned messages (the caller filtered them), with `links`
    as `links_drawn` gave them. It reads and writes nothing but its arguments: it may run in
    another thread."""
    texts = render(planned, practice=practice, links=links)
    return [Outgoing(recipient_kind="patient", recipient_id=p.addressee.id, channel=p.step.data["channel"],
                     address=p.address, kind=BALANCE_KIND, body=body, idempotency_key=p.key,
                     recipient_name=p.addressee.name, recipient_time_zone=p.addressee.time_zone,
                     subject=subject, send_at=p.send_at,
                     reason=f"{reason}, level {p.level}, {p.step.data['channel']} "
                            f"{'day ' + str(p.step.data['offset_days'])}",
                     template_name=p.step.data["template_name"],
                     template_version=str(p.step.data["template_version"]),
                     addon="balance_notifications", tag=tag)
            for p, (subject, body) in zip(planned, texts, strict=True)]
