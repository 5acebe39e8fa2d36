"""Reads for the bulk payment request screens, always for one practice: the day's list by tab
and keyset page, the undeliverable list, the dashboard's figures."""

from dataclasses import asdict, dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal

from django.db.models import Count, DecimalField, Exists, F, Max, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404
from django.utils import dateformat, timezone

from patients.models import Balance, Patient
from practices.templatetags.portal import money, phone

from ..models import (
    NOT_RESENDABLE,
    PAID_STATUSES,
    CampaignState,
    ContactFix,
    LinkSource,
    Payment,
    PaymentRequestCampaign,
    RequestList,
    RequestListEntry,
    Snooze,
)
from .contact import Person, people_of
from .eligibility import (
    RULE_SHORT,
    SNOOZE_RULE,
    Terms,
    entries_passing,
    failed_rules,
    rule_columns,
    standing_snoozes,
)

PAGE_SIZE = 50
TABS = ("all", "pending", "snoozed")
OLDEST_FIRST = [("aging_over_120", "over 120 days"), ("aging_91_120", "91-120 days"),
                ("aging_61_90", "61-90 days"), ("aging_31_60", "31-60 days"), ("aging_current", "current")]


@dataclass
class ListRow:
    position: int
    guarantor: Patient
    balance: Balance | None
    last_visit: object
    person: Person | None
    status: str  # pending, sent, snoozed, off
    snooze: Snooze | None
    campaign: PaymentRequestCampaign | None
    failed: list[str]

    @property
    def pending(self) -> bool:
        return self.status == "pending"

    @property
    def failed_words(self) -> str:
        return ", ".join(RULE_SHORT[name] for name in self.failed)

    @property
    def oldest(self) -> str:
        if self.balance is None:
            return ""
        return next((label for name, label in OLDEST_FIRST if getattr(self.balance, name) > 0), "")

    # Plain values for the row's template (a 50-row page renders in a few milliseconds when its
    # cells are values rather than lookups, filters and includes).

    @property
    def name(self) -> str:
        return f"{self.guarantor.last_name}, {self.guarantor.first_name}"

    @property
    def full_name(self) -> str:
        return f"{self.guarantor.first_name} {self.guarantor.last_name}"

    @property
    def short_name(self) -> str:
        return f"{self.guarantor.first_name} {self.guarantor.last_name[:1]}."

    @property
    def balance_text(self) -> str:
        return money(self.balance.total) if self.balance else "—"

    @property
    def last_visit_text(self) -> str:
        return self.last_visit.isoformat() if self.last_visit else "—"

    @property
    def channel(self) -> str:
        return self.person.contact.channel if self.person else ""

    @property
    def to(self) -> str:
        contact = self.person.contact if self.person else None
        if contact is None or not contact.channel:
            return ""
        if contact.channel != "sms":
            return contact.address
        digits = contact.address[2:]
        if contact.address.startswith("+1") and len(digits) == 10 and digits.isdigit():  # as `phone` shows it
            return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"
        return phone(contact.address)

    @property
    def fixed(self) -> bool:
        return bool(self.person and self.person.contact.fixed)

    @property
    def badge(self) -> tuple[str, str]:
        if self.status == "pending":
            return "Pending", "badge-ok"
        if self.status == "sent":
            return self.campaign.get_state_display(), ""
        return ("Snoozed" if self.status == "snoozed" else "Not now"), "badge-off"

    @property
    def note(self) -> str:
        if self.status == "sent":
            return "sent today"
        if self.status == "snoozed" and self.snooze:
            until = (f"until {dateformat.format(self.snooze.until, 'M j')}" if self.snooze.until
                     else "until claims settle")
            why = self.snooze.get_reason_display() + (f": {self.snooze.note}" if self.snooze.note else "")
            return f"{until} · {why}"
        return "" if self.status == "pending" else self.failed_words


@dataclass
class ListPage:
    rows: list[ListRow]
    next_after: int | None
    after: int | None


def _entries(request_list: RequestList, terms: Terms, tab: str) -> QuerySet[RequestListEntry]:
    entries = RequestListEntry.objects.filter(request_list=request_list)
    if tab == "pending":
        return entries_passing(entries, terms=terms)
    if tab == "snoozed":
        snoozed = standing_snoozes(terms.today).filter(guarantor_id=OuterRef("guarantor_id"))
        return entries.filter(Exists(snoozed))
    return entries


def _by_windows(entries: QuerySet, *, start: int, last: int, wanted: int) -> list:
    """The first `wanted` entries after position `start`, asked for a window of positions at a
    time (the window doubling while too few pass the tab's rules). The planner cannot foresee
    how many entries pass the rules, and for a whole list of thousands it chooses to evaluate
    them all and sort; a window of positions keeps each query to a bounded index range."""
    found: list = []
    window = wanted * 2
    while len(found) < wanted and start < last:
        found += list(entries.filter(position__gt=start, position__lte=start + window)[:wanted - len(found)])
        start += window
        window *= 2
    return found


def list_counts(*, request_list: RequestList, terms: Terms) -> dict[str, int]:
    return {"all": request_list.size,
            "pending": _entries(request_list, terms, "pending").count(),
            "snoozed": _entries(request_list, terms, "snoozed").count()}


def list_page(*, practice, request_list: RequestList, terms: Terms, tab: str, after: int | None = None,
              size: int = PAGE_SIZE) -> ListPage:
    """A page of the list in its order (`after`: the last position shown), each row with its
    state now: pending, sent, snoozed, or off the list with the rules it fails."""
    account_visit = (Patient.objects.filter(guarantor_id=OuterRef("guarantor_id")).order_by()
                     .values("guarantor_id").annotate(m=Max("last_visit_on")).values("m"))
    # On Pending every row passes every rule: only the other tabs ask each rule of each row.
    columns = {} if tab == "pending" else rule_columns(terms, "guarantor__")
    entries = (_entries(request_list, terms, tab).order_by("position").select_related("guarantor__balance")
               .annotate(last_visit=Subquery(account_visit), **columns))
    found = _by_windows(entries, start=after or 0, last=request_list.size, wanted=size + 1)
    more = len(found) > size
    found = found[:size]
    ids = [e.guarantor_id for e in found]
    people = people_of(practice=practice, patients=[e.guarantor for e in found])
    snoozes, campaigns = {}, {}
    if columns:  # rows that may be snoozed or sent (never on Pending)
        snoozes = {s.guarantor_id: s for s in standing_snoozes(terms.today).filter(guarantor_id__in=ids)}
        campaigns = {c.guarantor_id: c for c in PaymentRequestCampaign.objects.filter(
            guarantor_id__in=ids, started_on=terms.today).order_by("started_at")}
    rows = []
    for entry in found:
        failed = failed_rules(entry, terms) if columns else []
        guarantor = entry.guarantor
        balance = getattr(guarantor, "balance", None)  # None: the PMS sent no balance
        status = ("pending" if not failed else "sent" if entry.guarantor_id in campaigns
                  else "snoozed" if SNOOZE_RULE in failed else "off")
        rows.append(ListRow(position=entry.position, guarantor=guarantor, balance=balance,
                            last_visit=entry.last_visit, person=people.get(entry.guarantor_id), status=status,
                            snooze=snoozes.get(entry.guarantor_id),
                            campaign=campaigns.get(entry.guarantor_id),
                            failed=failed))
    return ListPage(rows=rows, next_after=found[-1].position if more else None, after=after)


# --- undeliverable ---


def undeliverable(*, practice, after: int | None = None, size: int = PAGE_SIZE):
    """Undeliverable requests, newest first (keyset on the campaign id), with their guarantors."""
    qs = PaymentRequestCampaign.objects.filter(practice=practice, state=CampaignState.UNDELIVERABLE)
    if after:
        qs = qs.filter(pk__lt=after)
    rows = list(qs.select_related("guarantor").order_by("-id")[:size + 1])
    return rows[:size], (rows[size - 1].pk if len(rows) > size else None)


def undeliverable_get(*, practice, pk) -> PaymentRequestCampaign:
    return get_object_or_404(PaymentRequestCampaign.objects.select_related("guarantor"), practice=practice,
                             pk=pk, state=CampaignState.UNDELIVERABLE)


def guarantor_name(*, practice, pk: int) -> str | None:
    """"Ana R." for one of the practice's guarantors (a dialog's heading), None for anyone else."""
    row = Patient.objects.filter(practice=practice, pk=pk).values_list("first_name", "last_name").first()
    return f"{row[0]} {row[1][:1]}.".strip() if row else None


def campaign_get(*, practice, pk) -> PaymentRequestCampaign:
    return get_object_or_404(PaymentRequestCampaign.objects.select_related("guarantor"), practice=practice,
                             pk=pk)


def fixes_not_taken(*, practice, limit: int = 100) -> list[ContactFix]:
    """Numbers staff added that the PMS has not sent back yet (it still has the old one)."""
    return list(ContactFix.objects.filter(practice=practice)
                .filter(Exists(Patient.objects.filter(pk=OuterRef("guarantor_id"),
                                                      mobile_phone=OuterRef("pms_mobile"))))
                .select_related("guarantor", "created_by").order_by("-created_at")[:limit])


def contact_fix_get(*, practice, pk) -> ContactFix:
    return get_object_or_404(ContactFix, practice=practice, pk=pk)


def campaign_messages(*, campaign: PaymentRequestCampaign):
    """Every outbox row of the campaign, all attempts, oldest first."""
    from notifications.models import Notification

    keys = [campaign.message_key(step, attempt)
            for attempt in range(1, campaign.attempt + 1) for step in range(3)]
    return list(Notification.objects.filter(practice_id=campaign.practice_id, idempotency_key__in=keys)
                .only("id", "channel", "address", "status", "reason_code", "send_at", "sent_at", "last_error",
                      "idempotency_key").order_by("send_at", "id"))


# --- the dashboard ---


@dataclass(frozen=True)
class ToDo:
    """Today's request work: the day's list, its pending entries (those passing every rule now),
    snoozes whose day has come (their guarantors are pending again), and undeliverable requests
    a fixed number can send again."""

    list_made: bool
    list_size: int
    pending: int
    snoozes_ending_today: int
    undeliverable: int


def requests_to_do(*, practice, terms: Terms, pending_cap: int | None = None) -> ToDo:
    """Today's request work in a few indexed queries. Counting the pending entries asks every rule
    of each; with `pending_cap` it stops after cap + 1 of them, so a list of any size costs the
    same."""
    request_list = RequestList.objects.filter(practice=practice, day=terms.today,
                                              made_at__isnull=False).first()
    pending = 0
    if request_list is not None:
        passing = _entries(request_list, terms, "pending")
        pending = (passing.count() if pending_cap is None
                   else passing.order_by().values("pk")[:pending_cap + 1].count())
    return ToDo(
        list_made=request_list is not None, list_size=request_list.size if request_list else 0,
        pending=pending,
        snoozes_ending_today=Snooze.objects.filter(practice=practice, until=terms.today,
                                                   ended_at__isnull=True).count(),
        undeliverable=PaymentRequestCampaign.objects.filter(
            practice=practice, state=CampaignState.UNDELIVERABLE).exclude(
            undeliverable_reason__in=NOT_RESENDABLE).count())


@dataclass(frozen=True)
class Figures(ToDo):
    sent_today: int = 0
    paid_week: int = 0
    paid_week_amount: Decimal = Decimal("0.00")


def dashboard_figures(*, practice, terms: Terms) -> Figures:
    """What to check daily, in a handful of queries."""
    today = terms.today
    week_start = timezone.make_aware(datetime.combine(today - timedelta(days=today.weekday()), time()),
                                     practice.tz)
    paid = Payment.objects.filter(practice=practice, status__in=PAID_STATUSES, succeeded_at__gte=week_start,
                                  link__source=LinkSource.PAYMENT_REQUEST).aggregate(
        n=Count("id"), amount=Coalesce(Sum(F("amount") - F("amount_refunded")), Value(Decimal("0.00")),
                                       output_field=DecimalField()))
    sent_today = PaymentRequestCampaign.objects.filter(practice=practice, started_on=today).count()
    return Figures(**asdict(requests_to_do(practice=practice, terms=terms)), sent_today=sent_today,
                   paid_week=paid["n"], paid_week_amount=paid["amount"])


# --- the settings page ---


def reminders_over_cap(*, practice, reminders: int, days: int) -> str:
    """A warning when the practice's frequency cap would hold back a reminder: the request and
    its reminders `days` apart put more texts in the cap's window than the cap allows."""
    from django.conf import settings

    from notifications.models import MessagingSettings

    messaging = MessagingSettings.objects.filter(practice=practice).first()
    cap = messaging.frequency_cap if messaging else settings.NOTIFICATIONS_FREQUENCY_CAP
    window = messaging.frequency_window_days if messaging else settings.NOTIFICATIONS_FREQUENCY_DAYS
    in_window = min(reminders + 1, window // max(days, 1) + 1)
    if in_window <= cap:
        return ""
    return (f"The office's frequency cap allows {cap} texts in {window} days: with reminders {days} days "
            "apart, "
            f"a reminder would be held back by it. Space them at least {window // cap + 1} days apart, "
            "or send fewer reminders.")

