from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from patients.selectors import guarantor_get
from practices.access import admin_required, practice_required

from . import quickpay, selectors, services
from .bulk_requests import selectors as request_selectors
from .bulk_requests.eligibility import RULES, Terms
from .bulk_requests.texts import request_templates_ensure, text_samples
from .forms import (
    AlertPreferenceForm,
    ApplicationFilterForm,
    PaymentFilterForm,
    PaymentRequestSettingsForm,
    PaymentSettingsForm,
)
from .models import Alert
from .panels import NEW_LINK_SESSION_KEY


@practice_required
def index(request):
    """The Payments dashboard: what to check daily about payment requests, and the payment-plan
    applications (filtered by state, or by a recent alert: the portal dashboard's links)."""
    form = ApplicationFilterForm(request.GET)
    filters = ({"state": form.cleaned_data["state"], "alerted_since": form.alerted_since(timezone.now())}
               if form.is_valid() else {"state": "", "alerted_since": None})
    rows = selectors.applications(practice=request.practice, **filters)
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    figures = (request_selectors.dashboard_figures(practice=request.practice,
                                                   terms=Terms.of(request.practice))
               if request.practice.addon_online_payments else None)
    return render(request, "payments/index.html", {
        "page": page, "figures": figures, "form": form, "query": query.urlencode(),
        "filtered": any(filters.values())})


@practice_required
def application_detail(request, application_id):
    detail = selectors.application_detail(practice=request.practice, pk=application_id)
    return render(request, "payments/application_detail.html", {"detail": detail})


@practice_required
def alert_preferences(request):
    """The signed-in member's alerts for the current office; a POST saves one alert's choice."""
    if request.method == "POST":
        form = AlertPreferenceForm(request.POST)
        if not form.is_valid():
            return render(request, "payments/alert_preferences.html", {"form": form, **_page(request)},
                          status=400)
        services.alert_preference_set(membership=request.membership, actor=request.user, **form.cleaned_data)
        alert = form.cleaned_data["alert"]
        if request.htmx:
            row = selectors.alert_preference_row(membership=request.membership, alert=alert)
            return render(request, "payments/alert_preferences.html#preference", {"pref": row, "saved": True})
        messages.success(request, f"Saved: {Alert(alert).label}.")
        return redirect("alert_preferences")
    return render(request, "payments/alert_preferences.html", _page(request))


def _page(request) -> dict:
    overview = (selectors.team_alert_overview(practice=request.practice)
                if request.membership.is_admin else None)
    return {"prefs": selectors.alert_preferences(membership=request.membership),
            "alerts": list(Alert), "overview": overview}


# --- QuickPay: payments received, links, settings ---


@practice_required
def payment_list(request):
    form = PaymentFilterForm(request.GET)
    page, totals = None, None
    if form.is_valid():
        qs = selectors.payment_list(practice=request.practice, filters=form.filters(request.practice.tz))
        page = selectors.payment_page(qs, after=form.cleaned_data["after"])
        totals = selectors.payment_totals(qs)
    query = request.GET.copy()
    query.pop("after", None)
    return render(request, "payments/payment_list.html", {"form": form, "page": page, "totals": totals,
                                                          "query": query.urlencode()})


@practice_required
@require_POST
def quickpay_link_create(request, guarantor_id):
    """A front-desk link for the guarantor, shown once (with its QR code) on their account page."""
    guarantor = guarantor_get(practice=request.practice, pk=guarantor_id)
    if not request.practice.addon_online_payments:
        messages.error(request, "Online payments (QuickPay) are off for this office.")
    else:
        url = quickpay.quickpay_front_desk_link(practice=request.practice, guarantor=guarantor,
                                                actor=request.user)
        request.session[NEW_LINK_SESSION_KEY] = {"guarantor": guarantor.pk, "url": url}
    return redirect(reverse("guarantor_detail", args=[guarantor.pk]) + "#quickpay")


@practice_required
@require_POST
def quickpay_link_revoke(request, link_id):
    link = selectors.quickpay_link_get(practice=request.practice, pk=link_id)
    if quickpay.quickpay_link_revoke(link=link, actor=request.user):
        messages.success(request, "The link is revoked: it now says so and gives the office's phone.")
    return redirect(reverse("guarantor_detail", args=[link.guarantor_id]) + "#quickpay")


@admin_required
def payment_settings(request):
    """Online payments and bulk payment requests: two forms on one page, each saved by its own
    button."""
    current = request_templates_ensure(request.practice)  # the Standard texts, the first time
    posted = request.POST if request.method == "POST" else None
    requests_posted = posted is not None and PaymentRequestSettingsForm.SUBMIT in posted
    form = PaymentSettingsForm(None if requests_posted else posted, instance=current)
    requests_form = PaymentRequestSettingsForm(posted if requests_posted else None, instance=current,
                                               practice=request.practice)
    saving = requests_form if requests_posted else form
    if posted is not None and saving.is_valid():
        changed = services.payment_settings_update(form=saving, practice=request.practice, actor=request.user)
        messages.success(request, "Payment settings saved." if changed else "Nothing changed.")
        return redirect(reverse("payment_settings") + ("#bulk-requests" if requests_posted else ""))
    return render(request, "payments/payment_settings.html", {
        "form": form, "requests_form": requests_form, "rules": RULES,
        "samples": text_samples(practice=request.practice),
        "cap_warning": request_selectors.reminders_over_cap(
            practice=request.practice, reminders=current.request_reminders,
            days=current.request_reminder_days)})
