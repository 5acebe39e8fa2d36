"""Reads for payment-plan applications, alert preferences, QuickPay links and payments, always for
one practice."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Count, DecimalField, Exists, OuterRef, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404

from config.keyset import KeysetPage, keyset_page
from practices.models import Membership, Practice

from .models import (
    PAID_STATUSES,
    Alert,
    AlertDelivery,
    AlertPreference,
    AlertTimer,
    Application,
    ApplicationEvent,
    Payment,
    PaymentSettings,
    QuickPayLink,
)


def applications(*, practice: Practice, state: str = "", alerted_since: datetime | None = None
                 ) -> QuerySet[Application]:
    """The office's applications, latest change first; only those in `state`, or with an alert
    fired since `alerted_since` (the dashboard's links), when given."""
    qs = Application.objects.filter(practice=practice)
    if state:
        qs = qs.filter(state=state)
    if alerted_since is not None:
        qs = qs.filter(Exists(AlertTimer.objects.filter(
            practice=practice, application=OuterRef("pk"), status=AlertTimer.Status.FIRED,
            fired_at__gt=alerted_since)))
    return qs.order_by("-state_at", "-pk")


def application_get(*, practice: Practice, pk) -> Application:
    return get_object_or_404(Application, practice=practice, pk=pk)


@dataclass(frozen=True)
class ApplicationDetail:
    application: Application
    events: list[ApplicationEvent]
    timers: list[AlertTimer]
    deliveries: list[AlertDelivery]


def application_detail(*, practice: Practice, pk) -> ApplicationDetail:
    application = application_get(practice=practice, pk=pk)
    return ApplicationDetail(
        application=application,
        events=list(application.events.order_by("occurred_at", "pk")),
        timers=list(application.timers.order_by("due_at")),
        deliveries=list(application.deliveries.select_related("user").order_by("alert_at", "user__email")),
    )


@dataclass(frozen=True)
class PreferenceRow:
    alert: str
    label: str
    enabled: bool
    delivery: str

    @property
    def mode(self) -> str:
        return self.delivery if self.enabled else "off"


def alert_preferences(*, membership: Membership) -> list[PreferenceRow]:
    """A member's five alert choices in one office, defaults (on, instant) filled in."""
    saved = {p.alert: p for p in AlertPreference.objects.filter(membership=membership)}
    return [_row(alert, saved.get(alert)) for alert in Alert]


def alert_preference_row(*, membership: Membership, alert: str) -> PreferenceRow:
    return _row(Alert(alert), AlertPreference.objects.filter(membership=membership, alert=alert).first())


def _row(alert: Alert, saved: AlertPreference | None) -> PreferenceRow:
    if saved is None:
        return PreferenceRow(alert.value, alert.label, True, AlertPreference.Delivery.INSTANT)
    return PreferenceRow(alert.value, alert.label, saved.enabled, saved.delivery)


@dataclass(frozen=True)
class TeamAlertRow:
    membership: Membership
    modes: list[str]  # in Alert order: instant, digest or off


def team_alert_overview(*, practice: Practice) -> list[TeamAlertRow]:
    """Who in the office receives which alert, and how."""
    memberships = list(Membership.objects.filter(practice=practice).select_related("user")
                       .order_by("user__email"))
    saved = {(p.membership_id, p.alert): p.mode
             for p in AlertPreference.objects.filter(membership__practice=practice)}
    return [TeamAlertRow(m, [saved.get((m.pk, a.value), AlertPreference.Delivery.INSTANT) for a in Alert])
            for m in memberships]


# --- QuickPay links and payments ---

PAYMENT_PAGE_SIZE = 50


def quickpay_link_get(*, practice: Practice, pk) -> QuickPayLink:
    return get_object_or_404(QuickPayLink.objects.select_related("guarantor"), practice=practice, pk=pk)


def payment_settings_get(*, practice: Practice) -> PaymentSettings:
    return PaymentSettings.objects.filter(practice=practice).first() or PaymentSettings(practice=practice)


def guarantor_quickpay_links(*, practice: Practice, guarantor_id: int, limit: int = 10) -> list[QuickPayLink]:
    """The guarantor's latest links, each with how often its page was opened."""
    return list(QuickPayLink.objects.filter(practice=practice, guarantor_id=guarantor_id)
                .annotate(open_count=Count("opens")).order_by("-created_at", "-pk")[:limit])


def guarantor_payments(*, practice: Practice, guarantor_id: int, limit: int = 20) -> list[Payment]:
    return list(Payment.objects.filter(practice=practice, guarantor_id=guarantor_id)
                .select_related("link").order_by("-created_at", "-pk")[:limit])


@dataclass
class PaymentFilters:
    status: str = ""
    source: str = ""
    channel: str = ""
    created_from: datetime | None = None
    created_to: datetime | None = None


def payment_list(*, practice: Practice, filters: PaymentFilters) -> QuerySet[Payment]:
    qs = Payment.objects.filter(practice=practice)
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.source:
        qs = qs.filter(link__source=filters.source)
    if filters.channel:
        qs = qs.filter(link__channel=filters.channel)
    if filters.created_from:
        qs = qs.filter(created_at__gte=filters.created_from)
    if filters.created_to:
        qs = qs.filter(created_at__lt=filters.created_to)
    return qs


def payment_page(qs: QuerySet[Payment], *, after: str = "") -> KeysetPage:
    """Newest first, 50 a page, continuing after a (created_at, id) cursor."""
    return keyset_page(qs.select_related("guarantor", "link"), after=after, size=PAYMENT_PAGE_SIZE)


@dataclass(frozen=True)
class PaymentTotals:
    count: int
    received: Decimal  # succeeded amounts, refunds included
    refunded: Decimal
    paid_count: int

    @property
    def net(self) -> Decimal:
        return self.received - self.refunded


def payment_totals(qs: QuerySet[Payment]) -> PaymentTotals:
    """Totals of the filtered payments, in one query."""
    zero = Value(Decimal("0.00"))
    paid = Q(status__in=PAID_STATUSES)
    row = qs.order_by().aggregate(
        count=Count("id"), paid_count=Count("id", filter=paid),
        received=Coalesce(Sum("amount", filter=paid), zero, output_field=DecimalField()),
        refunded=Coalesce(Sum("amount_refunded", filter=paid), zero, output_field=DecimalField()))
    return PaymentTotals(**row)


def payments_since(*, practice: Practice, since: int, limit: int) -> list[Payment]:
    """Payments whose last change the PMS must post came after change number `since`, in order.

    Change numbers of a practice become visible in the order they were given (see
    settlement_rows._numbered_sql), so nothing can appear later behind a cursor already handed out.
    """
    return list(Payment.objects.filter(practice=practice, change_seq__gt=since)
                .select_related("guarantor", "link").order_by("change_seq")[:limit])
