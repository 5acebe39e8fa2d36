"""Cadence preview: what a guarantor will receive over the next 90 days if nothing changes.

Each line is a message with when it would go, its channel and template, and, for one that would
not go, why. The reasons come from the rules themselves, not a copy: which steps apply and which
channels the guarantor can receive (scheduling.py, as the batch ingestion queues), then the
delivery engine's contact policy judged at each message's due time
(notifications.contact_policy.decisions_ahead: add-on, consent, opt-out, frequency cap, quiet
hours, "still wanted?").

- On the guarantor's account: the messages of their current statement, those queued and those
  its cadence could not queue (no address, no consent, no voice add-on).
- On a profile: what a new statement today under the profile's approved proof would cause, at
  the guarantor's next dunning level, with their balance's amounts.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.utils import timezone

from notifications.contact_policy import decisions_ahead
from notifications.models import QUEUE_STATUSES, Notification, ReasonCode
from practices.templatetags.portal import money

from .models import BALANCE_KIND, Anchor, Dunning, StatementProfile
from .scheduling import (
    Addressee,
    channel_address,
    plan_statement,
    proof_steps,
    render,
    step_time,
    steps_at_level,
)

HORIZON_DAYS = 90
SAMPLE_DUE, SAMPLE_BALANCE = Decimal("125.00"), Decimal("250.00")


@dataclass
class PreviewLine:
    at: datetime  # when it would go (a quiet-hours move included), or when it was due
    due: datetime
    channel: str
    template: str  # "name v3"
    level: int
    step: str  # "statement date + 10 days"
    outcome: str  # "sends", "moved", "will not send", "not queued"
    why: str = ""
    local: datetime | None = None


@dataclass
class Preview:
    lines: list[PreviewLine] = field(default_factory=list)
    note: str = ""  # what the preview assumes, or why it is empty
    level: int = 0


@dataclass
class _Planned:
    """A message to judge, with the attributes the contact policy reads."""

    pk: int | None
    practice: object
    practice_id: int
    recipient_kind: str
    recipient_id: int
    recipient_time_zone: str
    channel: str
    address: str
    send_at: datetime
    first_due_at: datetime
    consent: bool = True
    kind: str = BALANCE_KIND
    addon: str = "balance_notifications"
    label: tuple = ()


def _when(step: dict) -> str:
    days = step["offset_days"]
    if step["anchor"] == Anchor.STATEMENT_DATE:
        return "on the statement date" if days == 0 else f"statement date + {days} days"
    if days == 0:
        return "on the due date"
    return f"{abs(days)} days {'before' if days < 0 else 'after'} the due date"


def _label(step: dict, level: int) -> tuple:
    return (step["channel"], f"{step['template_name']} v{step['template_version']}", level, _when(step))


def _judge(rows: list[_Planned], not_queued: list[PreviewLine], *, now, tz: ZoneInfo) -> list[PreviewLine]:
    lines = list(not_queued)
    for row, decision, at in decisions_ahead(rows, now=now):
        channel, template, level, step = row.label
        if decision.action == "refuse":
            reason = ReasonCode(decision.reason_code).label if decision.reason_code else ""
            outcome, why = "will not send", f"{reason}: {decision.detail}" if reason else decision.detail
        elif at > max(row.send_at, now):
            outcome, why = "moved", f"quiet hours move it from {row.send_at.astimezone(tz):%b %-d %H:%M}"
        else:
            outcome, why = "sends", ""
        lines.append(PreviewLine(at=at, due=row.send_at, channel=channel, template=template, level=level,
                                 step=step, outcome=outcome, why=why))
    horizon = now + timedelta(days=HORIZON_DAYS)
    lines = [line for line in lines if line.at <= horizon]
    for line in lines:
        line.local = line.at.astimezone(tz)
    return sorted(lines, key=lambda line: (line.at, line.channel))


def _tz(practice, guarantor) -> ZoneInfo:
    return ZoneInfo(guarantor.time_zone or practice.time_zone)


def account_preview(*, practice, guarantor, now: datetime | None = None) -> Preview:
    """The coming messages of the guarantor's current statement."""
    now = now or timezone.now()
    dunning = (Dunning.objects.select_related("statement__batch__profile__approved_version")
               .filter(practice=practice, guarantor=guarantor).first())
    statement = dunning.statement if dunning else None
    if statement is None:
        return Preview(note="No statement yet: nothing is planned.")
    if not statement.level:
        return Preview(note="The current statement has nothing due: nothing is planned.")
    keys = statement.keys
    queued = list(Notification.objects.select_related("practice").filter(
        practice=practice, idempotency_key__in=keys, status__in=QUEUE_STATUSES))
    by_key = {n.idempotency_key: n for n in queued}
    approved = statement.batch.profile.approved_version
    steps = {s["id"]: s for s in (approved.steps if approved else [])}
    rows, not_queued = [], []
    tz = _tz(practice, guarantor)
    addressee = Addressee.of(guarantor)
    for step_id, key in zip(statement.step_ids, keys, strict=True):
        n = by_key.get(key)
        step = steps.get(step_id)
        if n is None or step is None:
            continue
        n.label = _label(step, statement.level)
        rows.append(n)
    for step in steps_at_level(list(steps.values()), statement.level):
        if step["id"] in statement.step_ids or not practice.addon_balance_notifications:
            continue
        _, why = channel_address(addressee, step["channel"], practice)
        due = step_time(step, statement_date=statement.statement_date, due_date=statement.due_date,
                        tz_name=addressee.time_zone or practice.time_zone)
        if due >= now:
            channel, template, level, when = _label(step, statement.level)
            not_queued.append(PreviewLine(at=due, due=due, channel=channel, template=template, level=level,
                                          step=when, outcome="not queued", why=why or "not queued"))
    return Preview(lines=_judge(rows, not_queued, now=now, tz=tz), level=statement.level,
                   note=f"Statement of {statement.statement_date:%b %-d, %Y} (batch "
                        f"{statement.batch.batch_id}), dunning level {statement.level}.")


def profile_preview(*, practice, profile: StatementProfile, guarantor,
                    now: datetime | None = None) -> Preview:
    """What a new statement today under this profile would cause for the guarantor."""
    now = now or timezone.now()
    approved = profile.approved_version
    if approved is None:
        return Preview(note="This profile has no approved proof: a statement would queue nothing.")
    if not profile.active:
        return Preview(note="This profile is inactive: a statement would queue nothing.")
    dunning = Dunning.objects.filter(practice=practice, guarantor=guarantor).first()
    level = (dunning.count if dunning else 0) + 1
    balance = getattr(guarantor, "balance", None)  # None when the PMS sent none
    sample = balance is None or balance.amount_due <= 0
    amount_due, total = (SAMPLE_DUE, SAMPLE_BALANCE) if sample else (balance.amount_due, balance.total)
    tz = _tz(practice, guarantor)
    today = now.astimezone(tz).date()
    due_date = today + timedelta(days=25)
    addressee = Addressee.of(guarantor)
    planned = plan_statement(practice=practice, steps=proof_steps(approved.steps), count=level,
                             addressee=addressee, statement_id=None, statement_date=today, due_date=due_date,
                             amount_due=amount_due, balance=total, practice_tz=practice.time_zone)
    rows, not_queued = [], []
    for p in planned:
        label = _label(p.step.data, level)
        if not p.address:
            not_queued.append(PreviewLine(at=p.send_at, due=p.send_at, channel=label[0], template=label[1],
                                          level=level, step=label[3], outcome="not queued", why=p.why_not))
            continue
        rows.append(_Planned(pk=None, practice=practice, practice_id=practice.pk, recipient_kind="patient",
                             recipient_id=guarantor.pk, recipient_time_zone=guarantor.time_zone,
                             channel=p.step.data["channel"], address=p.address, send_at=p.send_at,
                             first_due_at=max(p.send_at, now), label=label))
    return Preview(lines=_judge(rows, not_queued, now=now, tz=tz), level=level,
                   note=f"A statement dated today ({today:%b %-d, %Y}, due {due_date:%b %-d}) at "
                        f"dunning level {level}, {money(amount_due)} due of {money(total)}"
                        + (" (sample amounts)" if sample else "") + ".")


SAMPLE_GUARANTOR = Addressee(0, "Ana", "Reyes", "ana.reyes@example.com", "+13125550142", "+13125550143",
                             "", True, True, True)


@dataclass
class ProofLine:
    level: int
    step: str
    at: datetime  # for a statement dated today
    channel: str
    template: str
    subject: str
    body: str
    why_not: str  # the guarantor cannot receive it
    segments: dict | None  # a text's characters, encoding and segments


def proof_lines(*, practice, profile: StatementProfile, guarantor=None, now: datetime | None = None) -> list:
    """Every step of the profile's draft rendered for a guarantor (or sample values), as a
    statement dated today would render it: what an admin approves."""
    from notifications.rendering import sample_values, text_facts

    from .profiles import draft_snapshot

    now = now or timezone.now()
    addressee = Addressee.of(guarantor) if guarantor is not None else SAMPLE_GUARANTOR
    balance = getattr(guarantor, "balance", None) if guarantor is not None else None
    sample = balance is None or balance.amount_due <= 0
    amount_due, total = (SAMPLE_DUE, SAMPLE_BALANCE) if sample else (balance.amount_due, balance.total)
    tz = ZoneInfo(addressee.time_zone or practice.time_zone)
    today = now.astimezone(tz).date()
    steps = proof_steps(draft_snapshot(profile))
    lines = []
    for level in sorted({s.data["level"] for s in steps.values()}):
        planned = plan_statement(practice=practice, steps=steps, count=level, addressee=addressee,
                                 statement_id=0, statement_date=today, due_date=today + timedelta(days=25),
                                 amount_due=amount_due, balance=total, practice_tz=practice.time_zone)
        texts = render(planned, practice=practice, samples=sample_values())
        for p, (subject, body) in zip(planned, texts, strict=True):
            channel = p.step.data["channel"]
            lines.append(ProofLine(level=level, step=_when(p.step.data), at=p.send_at.astimezone(tz),
                                   channel=channel, template=_label(p.step.data, level)[1], subject=subject,
                                   body=body, why_not=p.why_not if guarantor is not None else "",
                                   segments=text_facts(body) if channel == "sms" else None))
    return lines
