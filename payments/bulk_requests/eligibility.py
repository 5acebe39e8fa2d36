"""Who may be asked for a payment today, and why anyone may not.

Each rule is named and written once here, as the SQL condition a guarantor passes (a Django
conditional expression over the patient at a given path). Everything that asks who is eligible
reads these same definitions:

- the day's list (`eligible_guarantors`, skipping `not_snoozed`: a snoozed guarantor stays on
  the list, shown as snoozed, and is pending again the moment the snooze ends);
- pending and send (`entries_passing`): the list's entries that pass every rule now;
- the explainer (`explain`): for one patient, every rule as a column of one query, and for
  each rule failed the words that say why (`Rule.failed`), from the facts of that patient.

The rules, in the order the explainer gives them: not on a payment plan in the PMS; owes more
than the minimum; the balance in the chosen aging category; is a guarantor; not snoozed; no
do-not-recall flag; not in an open payment request campaign; no campaign since the account's
last visit. Two more: the balance is not in collections (the QuickPay page does not take
payments on it), and, unless the practice includes them, no outstanding insurance claims.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db.models import (
    BooleanField,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Value,
)
from django.db.models.lookups import GreaterThanOrEqual
from django.utils import dateformat, timezone

from patients.models import Balance, Patient

from ..models import (
    OPEN_STATES,
    CampaignState,
    PaymentRequestCampaign,
    PaymentSettings,
    RequestAging,
    RequestListEntry,
    Snooze,
)

# The aging buckets at least as old as each category.
AGING_BUCKETS = {
    RequestAging.CURRENT: (),
    RequestAging.OVER_30: ("aging_31_60", "aging_61_90", "aging_91_120", "aging_over_120"),
    RequestAging.OVER_60: ("aging_61_90", "aging_91_120", "aging_over_120"),
    RequestAging.OVER_90: ("aging_91_120", "aging_over_120"),
}
AGING_DAYS = {RequestAging.OVER_30: 30, RequestAging.OVER_60: 60, RequestAging.OVER_90: 90}


@dataclass(frozen=True)
class Terms:
    """What the rules depend on: the practice's payment settings and its date today."""

    practice_id: int
    minimum: Decimal
    aging: str
    include_claims: bool
    today: date

    @classmethod
    def of(cls, practice, payment_settings: PaymentSettings | None = None, today: date | None = None):
        if payment_settings is None:
            payment_settings = (PaymentSettings.objects.filter(practice=practice).first()
                                or PaymentSettings(practice=practice))
        return cls(practice_id=practice.pk, minimum=Decimal(payment_settings.request_minimum),
                   aging=payment_settings.request_aging,
                   include_claims=payment_settings.request_include_claims,
                   today=today or timezone.localdate(timezone=practice.tz))


@dataclass
class Facts:
    """What the explainer knows of one guarantor, to put a failed rule in words."""

    guarantor: Patient
    balance: Balance | None
    snooze: Snooze | None = None
    open_campaign: PaymentRequestCampaign | None = None
    last_campaign: PaymentRequestCampaign | None = None
    account_last_visit: date | None = None


def _day(value: date) -> str:
    return dateformat.format(value, "M j, Y")


def _money(value) -> str:
    return f"${Decimal(value):,.2f}"


@dataclass(frozen=True)
class Rule:
    name: str
    words: str  # what passing means, as the settings page and the explainer's heading say it
    condition: Callable[[Terms, str], object]  # the condition passed, for the patient at the path
    failed: Callable[[Facts, Terms], str]  # why it is not passed, in words ("" = said elsewhere)
    short: str = ""  # a failure in a few words, for a list row
    applies: Callable[[Terms], bool] = field(default=lambda terms: True)


# --- the conditions; `p` is the path to the patient ("" on Patient, "guarantor__" on an entry) ---


def _not_on_plan(t: Terms, p: str):
    return Q(**{f"{p}balance__on_payment_plan": False})


def _owes_more(t: Terms, p: str):
    return Q(**{f"{p}balance__total__gt": t.minimum})


def _older_part(t: Terms, p: str):
    fields = [F(f"{p}balance__{name}") for name in AGING_BUCKETS[t.aging]]
    total = fields[0]
    for more in fields[1:]:
        total = total + more
    return total


def _aging(t: Terms, p: str):
    if not AGING_BUCKETS[t.aging]:
        return Q(**{f"{p}balance__isnull": False})
    return GreaterThanOrEqual(_older_part(t, p), Value(t.minimum, output_field=DecimalField()))


def _is_guarantor(t: Terms, p: str):
    return Q(**{f"{p}guarantor_id": F(f"{p}id")})


def standing_snoozes(today: date) -> QuerySet[Snooze]:
    """Snoozes in force today: not ended, and tied to claims or dated after today."""
    return Snooze.objects.filter(ended_at__isnull=True).filter(Q(until__isnull=True) | Q(until__gt=today))


def _not_snoozed(t: Terms, p: str):
    return ~Exists(standing_snoozes(t.today).filter(guarantor_id=OuterRef(f"{p}id")))


def _no_do_not_recall(t: Terms, p: str):
    return Q(**{f"{p}do_not_recall": False})


def _no_open_campaign(t: Terms, p: str):
    return ~Exists(PaymentRequestCampaign.objects.filter(guarantor_id=OuterRef(f"{p}id"),
                                                         state__in=OPEN_STATES))


def _no_campaign_since_visit(t: Terms, p: str):
    # A campaign blocks until someone on the account visits on a later day.
    visit_after = Patient.objects.filter(guarantor_id=OuterRef("guarantor_id"),
                                         last_visit_on__gt=OuterRef("started_on"))
    return ~Exists(PaymentRequestCampaign.objects.filter(guarantor_id=OuterRef(f"{p}id"))
                   .filter(~Exists(visit_after)))


def _not_in_collections(t: Terms, p: str):
    return Q(**{f"{p}balance__in_collections": False})


def _no_claims(t: Terms, p: str):
    return Q(**{f"{p}balance__outstanding_claims": 0})


# --- the words ---


def _plan_failed(f: Facts, t: Terms) -> str:
    return "on a payment plan in the PMS" if f.balance else ""


def _owes_failed(f: Facts, t: Terms) -> str:
    if f.balance is None:
        return "no balance from the PMS"
    return f"owes {_money(f.balance.total)}, not more than the {_money(t.minimum)} minimum"


def _aging_failed(f: Facts, t: Terms) -> str:
    if f.balance is None:
        return ""
    older = sum((getattr(f.balance, name) for name in AGING_BUCKETS[t.aging]), Decimal(0))
    return (f"{_money(older)} of the balance is over {AGING_DAYS[t.aging]} days old, less than the "
            f"{_money(t.minimum)} minimum")


def _guarantor_failed(f: Facts, t: Terms) -> str:
    return "not a guarantor: the balance is on the guarantor's account"


def _snooze_failed(f: Facts, t: Terms) -> str:
    s = f.snooze
    if s is None:
        return "snoozed"
    until = (f"until {_day(s.until)}" if s.until else "until the PMS reports the insurance claims settled")
    why = s.get_reason_display() + (f" ({s.note})" if s.note else "")
    return f"snoozed {until}: {why}"


def _recall_failed(f: Facts, t: Terms) -> str:
    return "has the do-not-recall flag"


def _open_failed(f: Facts, t: Terms) -> str:
    c = f.open_campaign
    if c is None:
        return "already in a payment request campaign"
    if c.state == CampaignState.UNDELIVERABLE:
        return (f"a payment request sent {_day(c.started_on)} could not be delivered: it is on the "
                "Undeliverable list")
    return f"already in a payment request campaign, started {_day(c.started_on)}"


def _since_visit_failed(f: Facts, t: Terms) -> str:
    c = f.last_campaign
    sent = f"a payment request went out {_day(c.started_on)}" if c else "a payment request went out"
    if f.account_last_visit:
        last = _day(f.account_last_visit)
        return f"{sent}, and no one on the account has visited since (last visit {last})"
    return f"{sent}, and the account has no visit since"


def _collections_failed(f: Facts, t: Terms) -> str:
    return "the balance is in collections" if f.balance else ""


def _claims_failed(f: Facts, t: Terms) -> str:
    if f.balance is None:
        return ""
    n = f.balance.outstanding_claims
    return f"{n} insurance claim{'' if n == 1 else 's'} outstanding (the practice leaves these out)"


RULES: tuple[Rule, ...] = (
    Rule("not_on_payment_plan", "not on a payment plan in the PMS", _not_on_plan, _plan_failed,
         "on a payment plan"),
    Rule("owes_more_than_minimum", "owes more than the minimum", _owes_more, _owes_failed,
         "under the minimum"),
    Rule("aging", "balance in the chosen aging category", _aging, _aging_failed, "not old enough"),
    Rule("is_guarantor", "is a guarantor", _is_guarantor, _guarantor_failed, "not a guarantor"),
    Rule("not_snoozed", "not snoozed", _not_snoozed, _snooze_failed, "snoozed"),
    Rule("no_do_not_recall", "no do-not-recall flag", _no_do_not_recall, _recall_failed, "do not recall"),
    Rule("no_open_campaign", "not already in a payment request campaign", _no_open_campaign, _open_failed,
         "in a campaign"),
    Rule("no_campaign_since_visit", "no payment request since the last visit", _no_campaign_since_visit,
         _since_visit_failed, "asked since the last visit"),
    Rule("not_in_collections", "balance not in collections", _not_in_collections, _collections_failed,
         "in collections"),
    Rule("no_outstanding_claims", "no outstanding insurance claims", _no_claims, _claims_failed,
         "claims outstanding", applies=lambda t: not t.include_claims),
)
RULE_SHORT = {rule.name: rule.short for rule in RULES}
RULE_NAMES = tuple(rule.name for rule in RULES)
SNOOZE_RULE = "not_snoozed"


def rules_for(terms: Terms, *, skip: tuple[str, ...] = ()) -> list[Rule]:
    return [rule for rule in RULES if rule.applies(terms) and rule.name not in skip]


def eligible_guarantors(*, terms: Terms, skip: tuple[str, ...] = ()) -> QuerySet[Patient]:
    """The practice's patients passing every rule (but those in `skip`): one SQL query."""
    qs = Patient.objects.filter(practice_id=terms.practice_id)
    for rule in rules_for(terms, skip=skip):
        qs = qs.filter(rule.condition(terms, ""))
    return qs.order_by()


def entries_passing(entries: QuerySet[RequestListEntry], *, terms: Terms,
                    skip: tuple[str, ...] = ()) -> QuerySet[RequestListEntry]:
    """List entries whose guarantor passes every rule now (but those in `skip`)."""
    for rule in rules_for(terms, skip=skip):
        entries = entries.filter(rule.condition(terms, "guarantor__"))
    return entries


def rule_columns(terms: Terms, prefix: str = "") -> dict:
    """Each applicable rule as a boolean column, for annotate(): True where it is passed."""
    return {f"rule_{rule.name}": ExpressionWrapper(rule.condition(terms, prefix), output_field=BooleanField())
            for rule in rules_for(terms)}


def failed_rules(row: dict | object, terms: Terms) -> list[str]:
    """The names of the rules a row annotated with rule_columns() fails (NULL counts as failed:
    a patient with no balance passes no rule about one)."""
    get = row.get if isinstance(row, dict) else lambda name: getattr(row, name)
    return [rule.name for rule in rules_for(terms) if not get(f"rule_{rule.name}")]


# --- the explainer ---


@dataclass(frozen=True)
class Reason:
    rule: str
    words: str


@dataclass
class Explanation:
    patient: Patient
    guarantor: Patient | None  # the account's guarantor (the patient when they are one)
    eligible: bool
    reasons: list[Reason]
    account: "Explanation | None" = None  # for a dependent: the guarantor's own explanation
    on_list: bool = False  # on today's list (made), whatever its state now

    @property
    def headline(self) -> str:
        if self.eligible:
            return "On today's list, waiting to be sent" if self.on_list else "Eligible: on the next list"
        return "Not on today's list" if not self.on_list else "On today's list, but not to be sent now"


def _facts(guarantor: Patient, terms: Terms) -> Facts:
    balance = Balance.objects.filter(guarantor_id=guarantor.pk).first()
    campaigns = list(PaymentRequestCampaign.objects.filter(guarantor_id=guarantor.pk)
                     .order_by("-started_at", "-id")[:1])
    open_campaign = (PaymentRequestCampaign.objects.filter(guarantor_id=guarantor.pk, state__in=OPEN_STATES)
                     .first())
    last_visit = (Patient.objects.filter(guarantor_id=guarantor.pk).aggregate(m=Max("last_visit_on"))["m"])
    return Facts(guarantor=guarantor, balance=balance,
                 snooze=standing_snoozes(terms.today).filter(guarantor_id=guarantor.pk).first(),
                 open_campaign=open_campaign, last_campaign=campaigns[0] if campaigns else None,
                 account_last_visit=last_visit)


def explain(*, patient: Patient, terms: Terms, list_id: int | None = None) -> Explanation:
    """Which rules keep this patient off the list today, in words, from the rules' own SQL.

    For a dependent the answer is that the balance is on the guarantor's account, with the
    guarantor's own explanation beside it.
    """
    row = (Patient.objects.filter(practice_id=terms.practice_id, pk=patient.pk)
           .annotate(**rule_columns(terms)).values(*(f"rule_{r.name}" for r in rules_for(terms))).first())
    if row is None:
        raise Patient.DoesNotExist
    failed = failed_rules(row, terms)
    is_guarantor = "is_guarantor" not in failed
    guarantor = patient if is_guarantor else (
        Patient.objects.filter(practice_id=terms.practice_id, pk=patient.guarantor_id).first()
        if patient.guarantor_id else None)
    if not is_guarantor:
        account = (explain(patient=guarantor, terms=terms, list_id=list_id)
                   if guarantor is not None and guarantor.pk != patient.pk else None)
        words = (f"not a guarantor: the balance is on the account of {guarantor.first_name} "
                 f"{guarantor.last_name}"
                 if guarantor else "not a guarantor, and the PMS has not sent their guarantor")
        return Explanation(patient=patient, guarantor=guarantor, eligible=False,
                           reasons=[Reason("is_guarantor", words)], account=account)
    on_list = bool(list_id and RequestListEntry.objects.filter(request_list_id=list_id,
                                                               guarantor_id=patient.pk)
                   .exists())
    facts = _facts(patient, terms)
    by_name = {rule.name: rule for rule in RULES}
    reasons = [Reason(name, words) for name in failed if (words := by_name[name].failed(facts, terms))]
    return Explanation(patient=patient, guarantor=patient, eligible=not failed, reasons=reasons,
                       on_list=on_list)
