"""Payment request campaigns: sending the list, ending them when the guarantor pays, and what
the outbox says about their requests.

A send, in one transaction with the practice's payment settings row locked (so two sends, or a
send and a resend, never plan the same hours or ask one guarantor twice):

1. the chosen guarantors are asked again of every eligibility rule (one query);
2. each gets a campaign, in one statement per chunk (bulk_insert.rows_insert): active, or
   undeliverable at once when there is nothing to send to;
3. its request and reminders get their moments (spread.py: the hourly cap, texting hours);
4. every message gets its QuickPay link (`quickpay_links_mint`, source payment_request), its words
   from the office's payment-request templates (texts.py) and its outbox row
   (`notifications_schedule_many`), a few statements per chunk;
5. the hours used are written, and the send is in the audit trail.
"""

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from notifications.models import Notification, ReasonCode, Status
from notifications.services import Outgoing, notifications_cancel_many, notifications_schedule_many
from practices.models import Practice
from practices.services import audit_record

from ..bulk_insert import rows_insert
from ..models import (
    OPEN_STATES,
    CampaignState,
    LinkChannel,
    LinkSource,
    PaymentRequestCampaign,
    PaymentSettings,
    RequestList,
    RequestListEntry,
    UndeliverableReason,
)
from ..quickpay import LinkRequest, quickpay_links_mint
from .contact import Person, people_for
from .eligibility import Terms, entries_passing
from .spread import Spread
from .texts import RequestTexts, request_templates_ensure

KIND = "payment_request"  # the outbox rows' kind
ADDON = "online_payments"
CHUNK = 2000
OUTBOX_CHUNK = 50_000  # messages a statement of notifications_schedule_many (staged by COPY)
# How long after its request a campaign's request may still turn out undeliverable (a carrier's
# late report); older active campaigns are not looked at again.
WATCH_DAYS = 14
LINK_CHANNELS = {"sms": LinkChannel.SMS, "email": LinkChannel.EMAIL}
ADDON_OFF = "Online payments (QuickPay) are off for this office: payment requests need them."


@dataclass(frozen=True)
class Selection:
    """What staff chose on the list: every pending guarantor but `excluded`, or `ids`."""

    everyone: bool = False
    ids: frozenset = frozenset()
    excluded: frozenset = frozenset()


@dataclass
class SendPlan:
    """Who would get what, and when: the preview of a send, and what a send did."""

    by_channel: dict = field(default_factory=lambda: {"sms": 0, "email": 0, "": 0})
    first_at: datetime | None = None
    last_at: datetime | None = None
    campaigns: int = 0
    messages: int = 0
    left_out: int = 0  # chosen, but no longer eligible

    @property
    def undeliverable(self) -> int:
        return self.by_channel[""]


def settings_locked(practice) -> PaymentSettings:
    PaymentSettings.objects.get_or_create(practice=practice)
    return PaymentSettings.objects.select_for_update().get(practice=practice)


def selection_targets(*, request_list: RequestList, terms: Terms, selection: Selection) -> list[int]:
    """The chosen guarantors that are pending now, in list order: one query."""
    entries = entries_passing(RequestListEntry.objects.filter(request_list=request_list), terms=terms)
    if selection.everyone:
        if selection.excluded:
            entries = entries.exclude(guarantor_id__in=selection.excluded)
    else:
        entries = entries.filter(guarantor_id__in=selection.ids)
    return list(entries.order_by("position").values_list("guarantor_id", flat=True))


def moments_plan(spread: Spread, reminders: int, days: int) -> list[datetime]:
    """When a request and its reminders go: the next request moment, then `days` apart."""
    request_at = spread.next_request()
    later = (spread.take(request_at + timedelta(days=days * step)) for step in range(1, reminders + 1))
    return [request_at, *later]


def payment_requests_preview(*, practice, request_list: RequestList, selection: Selection) -> SendPlan:
    """What a send of this selection would do now, written nowhere."""
    payment_settings = (PaymentSettings.objects.filter(practice=practice).first()
                        or PaymentSettings(practice=practice))
    terms = Terms.of(practice, payment_settings)
    targets = selection_targets(request_list=request_list, terms=terms, selection=selection)
    plan = SendPlan(left_out=0 if selection.everyone else len(selection.ids) - len(targets))
    spread = Spread(practice=practice, cap=payment_settings.request_hourly_cap, now=timezone.now())
    people = people_for(practice=practice, guarantor_ids=targets)
    reminders, days = payment_settings.request_reminders, payment_settings.request_reminder_days
    for guarantor_id in targets:
        contact = people[guarantor_id].contact
        plan.by_channel[contact.channel] += 1
        plan.campaigns += 1
        if contact.channel:
            times = moments_plan(spread, reminders, days)
            plan.first_at = plan.first_at or times[0]
            plan.last_at = times[0]
    return plan


def _messages(*, campaign, person: Person, times: list[datetime], texts: RequestTexts,
              urls: list[str]) -> list[Outgoing]:
    contact = person.contact
    out = []
    for step, (moment, url) in enumerate(zip(times, urls, strict=True)):
        key = campaign.message_key(step)
        rendered = texts.render(step=step, channel=contact.channel, first_name=person.first_name, link=url,
                                key=key)
        out.append(Outgoing(
            recipient_kind="patient", recipient_id=person.id, recipient_name=person.name[:200],
            recipient_time_zone=person.time_zone, consent=contact.consent, channel=contact.channel,
            address=contact.address, kind=KIND, subject=rendered.subject, body=rendered.body,
            idempotency_key=key, send_at=moment, addon=ADDON,
            reason=f"payment request {campaign.pk}" + (f", reminder {step}" if step else ""),
            template_name=rendered.template_name, template_version=rendered.template_version))
    return out


def messages_queue(*, practice, payment_settings: PaymentSettings, planned: list[tuple]) -> int:
    """Mint the links and queue the messages of campaigns whose moments are planned: `planned`
    holds (campaign, Person, moments), the campaign with its id and `message_key(step)`."""
    texts = RequestTexts(practice, payment_settings)
    rows = []
    for start in range(0, len(planned), CHUNK):
        chunk = planned[start:start + CHUNK]
        links = [LinkRequest(guarantor_id=person.id, notification_key=campaign.message_key(step),
                             source=LinkSource.PAYMENT_REQUEST,
                             channel=LINK_CHANNELS[person.contact.channel])
                 for campaign, person, times in chunk for step in range(len(times))]
        urls = iter(quickpay_links_mint(practice=practice, items=links))
        for campaign, person, times in chunk:
            rows += _messages(campaign=campaign, person=person, times=times, texts=texts,
                              urls=[next(urls) for _ in times])
    # The whole send in as few statements as the outbox takes: each INSERT into the outbox
    # fires its statement triggers (history counts, recipient search keys) once, and each
    # firing costs a fixed part (planning, JIT) whatever its size.
    return notifications_schedule_many(practice=practice, messages=rows, chunk=OUTBOX_CHUNK).created


def messages_stop(*, practice_id: int, keys: list[str], reason_code: str, detail: str = "") -> int:
    """Stop the unsent ones among these messages (will not send, with the reason)."""
    return notifications_cancel_many(practice=Practice(pk=practice_id), reason_code=reason_code, keys=keys,
                                     detail=detail)


@dataclass
class _Started:
    """A campaign of a send, before and after its row is written (a model instance per
    guarantor cost a tenth of a 10,000-guarantor send)."""

    guarantor_id: int
    row: tuple  # in _CAMPAIGN_COLUMNS order
    request_at: datetime | None
    pk: int | None = None
    attempt: int = 1

    def message_key(self, step: int) -> str:
        return f"payreq:{self.pk}:{self.attempt}:{step}"


_CAMPAIGN_COLUMNS = ["practice", "guarantor", "started_at", "started_on", "started_by", "state",
                     "state_at", "channel", "address", "fixed_number", "reminders", "request_at", "ends_at",
                     "undeliverable_reason"]


def payment_requests_send(*, practice, actor, request_list: RequestList, selection: Selection) -> SendPlan:
    """Start a campaign for every chosen guarantor still pending (see the module's docstring)."""
    if not practice.addon_online_payments:
        raise ValidationError(ADDON_OFF)
    actor_id = actor.pk if actor is not None else None
    with transaction.atomic():
        payment_settings = settings_locked(practice)
        terms = Terms.of(practice, payment_settings)
        targets = selection_targets(request_list=request_list, terms=terms, selection=selection)
        plan = SendPlan(left_out=0 if selection.everyone else len(selection.ids) - len(targets))
        if not targets:
            return plan
        payment_settings = request_templates_ensure(practice)
        now = timezone.now()
        spread = Spread(practice=practice, cap=payment_settings.request_hourly_cap, now=now)
        people = people_for(practice=practice, guarantor_ids=targets)
        reminders, days = payment_settings.request_reminders, payment_settings.request_reminder_days
        started, schedule = [], []
        for guarantor_id in targets:
            person = people[guarantor_id]
            contact = person.contact
            if contact.channel:
                times = moments_plan(spread, reminders, days)
                row = (practice.pk, guarantor_id, now, terms.today, actor_id, CampaignState.ACTIVE, now,
                       contact.channel, contact.address, contact.fixed, reminders, times[0],
                       times[-1] + timedelta(days=days), "")
                campaign = _Started(guarantor_id, row, times[0])
                schedule.append((campaign, person, times))
            else:
                row = (practice.pk, guarantor_id, now, terms.today, actor_id, CampaignState.UNDELIVERABLE,
                       now, "", "", False, 0, None, None, contact.missing)
                campaign = _Started(guarantor_id, row, None)
            started.append(campaign)
            plan.by_channel[contact.channel] += 1
        written = rows_insert(PaymentRequestCampaign, _CAMPAIGN_COLUMNS, [c.row for c in started],
                              returning=("id", "guarantor"))
        ids = {guarantor_id: pk for pk, guarantor_id in written}
        for campaign in started:
            campaign.pk = ids[campaign.guarantor_id]
        plan.campaigns = len(started)
        plan.messages = messages_queue(practice=practice, payment_settings=payment_settings, planned=schedule)
        if schedule:
            plan.first_at, plan.last_at = schedule[0][0].request_at, schedule[-1][0].request_at
        spread.save()
        audit_record(practice=practice, actor=actor, action="payment_requests.sent",
                     target=f"{plan.campaigns} guarantors", by_text=plan.by_channel["sms"],
                     by_email=plan.by_channel["email"], undeliverable=plan.undeliverable,
                     left_out=plan.left_out)
    return plan


# --- ending campaigns ---


def message_keys(rows) -> list[str]:
    """The outbox keys of the current attempt of each (campaign id, attempt, reminders)."""
    return [f"payreq:{pk}:{attempt}:{step}"
            for pk, attempt, reminders in rows for step in range(reminders + 1)]


def campaigns_end(*, practice_id: int, campaign_filter: Q, state: str, reason_code: str,
                  detail: str = "") -> int:
    """End the open campaigns matching `campaign_filter` in `state`, and stop their unsent
    messages with `reason_code`. Set-based: one UPDATE, then the cancel per chunk of keys."""
    now = timezone.now()
    with transaction.atomic():
        qs = PaymentRequestCampaign.objects.filter(campaign_filter, practice_id=practice_id,
                                                   state__in=OPEN_STATES)
        rows = list(qs.select_for_update().values_list("id", "attempt", "reminders"))
        if not rows:
            return 0
        PaymentRequestCampaign.objects.filter(pk__in=[r[0] for r in rows]).update(state=state, state_at=now)
        messages_stop(practice_id=practice_id, keys=message_keys(rows), reason_code=reason_code,
                      detail=detail)
    return len(rows)


def payment_request_campaigns_paid(*, practice_id: int, guarantor_ids: list[int], detail: str) -> int:
    """The guarantors paid: their open campaigns end `paid`, their reminders will not send."""
    ended = 0
    for start in range(0, len(guarantor_ids), CHUNK):
        chunk = Q(guarantor_id__in=guarantor_ids[start:start + CHUNK])
        ended += campaigns_end(practice_id=practice_id, campaign_filter=chunk, state=CampaignState.PAID,
                               reason_code=ReasonCode.BALANCE_PAID, detail=detail)
    return ended


# --- what the outbox says: undeliverable requests, finished campaigns ---

_PROVIDER_CODE = re.compile(r"\b(2\d{4}|3\d{4})\b")
# Twilio's error codes, as the undeliverable list says them.
_CODE_REASONS = {
    "21211": UndeliverableReason.INVALID_NUMBER, "21614": UndeliverableReason.NOT_MOBILE,
    "30006": UndeliverableReason.NOT_MOBILE, "21612": UndeliverableReason.UNREACHABLE,
    "30003": UndeliverableReason.UNREACHABLE, "30004": UndeliverableReason.UNREACHABLE,
    "30005": UndeliverableReason.UNREACHABLE, "21408": UndeliverableReason.UNREACHABLE,
    "21610": UndeliverableReason.OPTED_OUT,
}
# The outbox's refusals that mean the request did not reach the guarantor. A frequency cap does
# not: the campaign's reminders still go.
_REFUSALS = {ReasonCode.OPTED_OUT: UndeliverableReason.OPTED_OUT,
             ReasonCode.NO_CONSENT: UndeliverableReason.NO_CONSENT,
             ReasonCode.NO_ADDRESS: UndeliverableReason.NO_CONTACT,
             ReasonCode.QUIET_HOURS_EXPIRED: UndeliverableReason.NOT_SENT,
             ReasonCode.ADDON_OFF: UndeliverableReason.NOT_SENT}


def undeliverable_reason(*, channel: str, status: str, reason_code: str, last_error: str) -> str | None:
    """Why a request's outbox row means it could not be delivered; None while it still can be."""
    if status == Status.UNDELIVERABLE_PERMANENT:
        if channel == "email":
            return UndeliverableReason.BOUNCED
        code = _PROVIDER_CODE.search(last_error or "")
        return _CODE_REASONS.get(code.group(1) if code else "", UndeliverableReason.NOT_SENT)
    if status == Status.DELIVERY_ERROR:
        return UndeliverableReason.NOT_SENT
    if status == Status.WILL_NOT_SEND:
        return _REFUSALS.get(reason_code)
    return None


def campaigns_watch(now: datetime) -> dict:
    """Mark active campaigns whose request could not be delivered (their reminders stop), and
    finish those whose time is over. Run with the due work, every minute."""
    finished = PaymentRequestCampaign.objects.filter(state=CampaignState.ACTIVE, ends_at__lte=now).update(
        state=CampaignState.FINISHED, state_at=now)
    watched = (PaymentRequestCampaign.objects.filter(state=CampaignState.ACTIVE, request_at__lte=now,
                                                      request_at__gte=now - timedelta(days=WATCH_DAYS))
               .values_list("id", "practice_id", "attempt", "reminders"))
    by_key = {f"payreq:{pk}:{attempt}:0": (pk, practice_id, attempt, reminders)
              for pk, practice_id, attempt, reminders in watched}
    failed = 0
    keys = list(by_key)
    for start in range(0, len(keys), CHUNK):
        bad = Notification.objects.filter(idempotency_key__in=keys[start:start + CHUNK]).filter(
            Q(status__in=[Status.UNDELIVERABLE_PERMANENT, Status.DELIVERY_ERROR])
            | Q(status=Status.WILL_NOT_SEND, reason_code__in=list(_REFUSALS))).values_list(
            "idempotency_key", "channel", "status", "reason_code", "last_error")
        for key, channel, status, reason_code, last_error in bad:
            reason = undeliverable_reason(channel=channel, status=status, reason_code=reason_code,
                                          last_error=last_error)
            pk, practice_id, attempt, reminders = by_key[key]
            detail = last_error or (ReasonCode(reason_code).label if reason_code else "")
            keys = message_keys([(pk, attempt, reminders)])
            failed += _undeliverable_mark(practice_id=practice_id, campaign_id=pk, reason=reason,
                                          detail=detail, keys=keys)
    return {"finished": finished, "undeliverable": failed}


@transaction.atomic
def _undeliverable_mark(*, practice_id: int, campaign_id: int, reason: str, detail: str,
                        keys: list[str]) -> int:
    moved = PaymentRequestCampaign.objects.filter(pk=campaign_id, state=CampaignState.ACTIVE).update(
        state=CampaignState.UNDELIVERABLE, state_at=timezone.now(), undeliverable_reason=reason,
        undeliverable_detail=detail[:300])
    if moved:
        messages_stop(practice_id=practice_id, keys=keys, reason_code=ReasonCode.SUPERSEDED,
                      detail="the payment request could not be delivered")
    return moved
