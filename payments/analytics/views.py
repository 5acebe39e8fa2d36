from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone

from practices.access import practice_required

from .forms import AnalyticsCsvForm, AnalyticsForm
from .tables import BUILDERS, all_tables, table_csv


@practice_required
def analytics(request):
    form = AnalyticsForm(request.GET, today=timezone.localdate())
    scope = form.scope(request) if form.is_valid() else None
    return render(request, "payments/analytics.html", {
        "form": form, "scope": scope, "tables": all_tables(scope) if scope else [],
        "query": scope.query if scope else ""})


@practice_required
def analytics_csv(request):
    form = AnalyticsCsvForm(request.GET, today=timezone.localdate())
    if not form.is_valid():
        problems = "; ".join(f"{name}: {' '.join(errors)}" for name, errors in form.errors.items())
        return HttpResponse(f"Nothing exported. {problems}\n", status=400,
                            content_type="text/plain; charset=utf-8")
    scope, name = form.scope(request), form.cleaned_data["table"]
    where = "all-offices" if scope.all_offices else request.practice.slug
    response = HttpResponse(table_csv(BUILDERS[name](scope)), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (f'attachment; filename="{name}-{where}-{scope.date_from:%Y%m%d}-'
                                       f'{scope.date_to:%Y%m%d}.csv"')
    return response
