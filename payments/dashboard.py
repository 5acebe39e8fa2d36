"""The dashboard's payment items: recent payment-plan alerts, approvals waiting, today's bulk
payment-request list (pending, snoozes ending today, undeliverable to fix), payments received,
and (admins) online payments switched on without a Stripe account. See practices/dashboard.py."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from urllib.parse import urlencode

from django.conf import settings
from django.db.models import Count, DecimalField, Sum, Value
from django.db.models.functions import Coalesce
from django.urls import reverse

from practices.dashboard import WorkItem, office_day_start, office_week_start
from practices.templatetags.portal import money

from .bulk_requests.eligibility import Terms
from .bulk_requests.selectors import ToDo, requests_to_do
from .models import PAID_STATUSES, Alert, AlertTimer, Application, EventType, Payment
from .selectors import payment_settings_get

RECENT_ALERTS = timedelta(hours=24)


def alerts_recent(*, practice, now: datetime) -> dict[str, int]:
    """Payment-plan alerts the office had in the last 24 hours, by alert (an index range)."""
    rows = (AlertTimer.objects.filter(practice=practice, status=AlertTimer.Status.FIRED,
                                      fired_at__gt=now - RECENT_ALERTS, fired_at__lte=now)
            .values_list("alert").annotate(n=Count("id")).order_by())
    return dict(rows)


def approvals_open(*, practice) -> int:
    """Approved applications not activated yet: their plan waits for the patient."""
    return Application.objects.filter(practice=practice, state=EventType.APPROVED).count()


@dataclass(frozen=True)
class Received:
    count: int
    amount: Decimal


def payments_received(*, practice, start: datetime, end: datetime) -> Received:
    """Payments started in [start, end) whose money reached the office: what the Payments
    received screen calls Received (refunds included) for the same days."""
    row = Payment.objects.filter(practice=practice, created_at__gte=start, created_at__lt=end,
                                 status__in=PAID_STATUSES).aggregate(
        count=Count("id"),
        amount=Coalesce(Sum("amount"), Value(Decimal("0.00")), output_field=DecimalField()))
    return Received(**row)


def stripe_account_missing(*, practice) -> bool:
    return (practice.addon_online_payments and settings.PAYMENTS_GATEWAY == "stripe"
            and not payment_settings_get(practice=practice).stripe_account_id)


def _days_link(start: datetime, end: datetime, tz) -> str:
    last_day = (end - timedelta(microseconds=1)).astimezone(tz).date()
    query = {"date_from": start.astimezone(tz).date().isoformat(), "date_to": last_day.isoformat()}
    return f"{reverse('payment_list')}?{urlencode(query)}"


# Pending requests are counted up to this many, then "200+" (the list shows them all): each
# entry is asked every rule, so the count reads at most this many entries.
PENDING_CAP = 200


def _request_items(today: ToDo) -> list[WorkItem]:
    lists = reverse("payment_requests")
    on_list = (f"of {today.list_size:,} on today's list" if today.list_made
               else "today's list is not made yet")
    return [
        WorkItem("todo", 40, "requests-pending", "Payment requests to send", f"{lists}?tab=pending",
                 count=min(today.pending, PENDING_CAP), capped=today.pending > PENDING_CAP, note=on_list),
        WorkItem("todo", 50, "snoozes-ending", "Snoozes ending today", f"{lists}?tab=pending",
                 count=today.snoozes_ending_today, note="back on the list"),
        WorkItem("todo", 60, "requests-undeliverable", "Undeliverable requests to fix",
                 reverse("payment_requests_undeliverable"), count=today.undeliverable),
    ]


def worklist(*, practice, membership, now: datetime) -> list[WorkItem]:
    tz = practice.tz
    alerts = alerts_recent(practice=practice, now=now)
    by_alert = ", ".join(f"{n} {Alert(alert).label.lower()}" for alert, n in sorted(alerts.items()))
    applications = reverse("payments")
    day, week = office_day_start(now, tz), office_week_start(now, tz)
    tomorrow = day + timedelta(days=1)  # wall-clock arithmetic: the next office midnight
    today, this_week = (payments_received(practice=practice, start=start, end=tomorrow)
                        for start in (day, week))
    items = [
        WorkItem("todo", 10, "alerts-recent", "Payment-plan alerts in the last 24 hours",
                 f"{applications}?alerted=24h", count=sum(alerts.values()), note=by_alert),
        WorkItem("todo", 20, "approvals-open", "Approved payment plans waiting to be activated",
                 f"{applications}?state=approved", count=approvals_open(practice=practice)),
        WorkItem("activity", 10, "payments-today", "Payments received today",
                 _days_link(day, tomorrow, tz), count=today.count, figure=money(today.amount),
                 note=f"{today.count} payment{'s' if today.count != 1 else ''}"),
        WorkItem("activity", 20, "payments-week", "Payments received this week",
                 _days_link(week, tomorrow, tz), count=this_week.count, figure=money(this_week.amount),
                 note=f"{this_week.count} payment{'s' if this_week.count != 1 else ''} since Monday"),
    ]
    if practice.addon_online_payments:
        terms = Terms.of(practice, today=now.astimezone(tz).date())
        items += _request_items(requests_to_do(practice=practice, terms=terms, pending_cap=PENDING_CAP))
    if membership.is_admin and stripe_account_missing(practice=practice):
        items.append(WorkItem("setup", 30, "setup-stripe", "Online payments are on without a Stripe account",
                              reverse("payment_settings"), count=1,
                              note="QuickPay pages cannot take payments until it is set."))
    return items
