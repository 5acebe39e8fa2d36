from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render

from practices.access import practice_required

from . import selectors, services
from .forms import AlertPreferenceForm
from .models import Alert


@practice_required
def index(request):
    page = Paginator(selectors.applications(practice=request.practice), 50).get_page(request.GET.get("page"))
    return render(request, "payments/index.html", {"page": page})


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
