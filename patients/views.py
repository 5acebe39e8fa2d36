from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.module_loading import import_string
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRefresh

from notifications.selectors import notifications_for_recipient
from practices.access import admin_required, practice_required

from . import selectors, services
from .forms import ImportUploadForm, PatientFilterForm
from .records import CSV_COLUMNS
from .uploads import template_response, upload_confirm_request

EXAMPLE_ROWS = [
    ["PMS-1001", "Ana", "Reyes", "1984-09-30", "ana@example.com", "(312) 555-0142", "", "America/Chicago", "",
     "true", "true", "false", "true", "false", "2026-02-01", "250.00", "100.00", "150.00", "50.00", "50.00",
     "0.00", "0.00", "false", "false", "1", "2026-02-02T08:00:00Z"],
    ["PMS-1002", "Mia", "Reyes", "2015-04-02", "", "", "", "", "PMS-1001", "false", "false", "false", "false",
     "false", "2026-01-10", "", "", "", "", "", "", "", "", "", "", ""],
]


@practice_required
def patient_list(request):
    """The list and its search. The search form posts: names, phones and emails typed into it are
    patient data, so they stay out of URLs, browser history and access logs. Filters without a
    search term page with plain links, so they can be bookmarked."""
    form = PatientFilterForm((request.POST if request.method == "POST" else request.GET) or None)
    filters = form.filters()
    rows, next_after = selectors.patient_page(practice=request.practice, filters=filters,
                                              after=form.after_id())
    template = "patients/index.html#results" if request.htmx else "patients/index.html"
    carried = form.carried()
    return render(request, template, {
        "form": form, "patients": rows, "next_after": next_after,
        "page_by_post": any(name == "q" for name, _ in carried), "carried": carried,
        "next_query": urlencode([*carried, ("after", next_after)]), "first_query": urlencode(carried),
    })


@practice_required
def patient_detail(request, patient_id):
    patient = selectors.patient_get(practice=request.practice, pk=patient_id)
    return render(request, "patients/detail.html", {
        "patient": patient, "balance": selectors.account_balance(patient=patient),
        "visits": selectors.patient_visits(patient=patient),
        "history": notifications_for_recipient(practice=request.practice, kind="patient",
                                               recipient_id=patient.pk),
        # Parts other apps add (payments): settings.PATIENT_PANELS, each `panel(request, patient)`.
        "panels": [import_string(path)(request, patient) for path in settings.PATIENT_PANELS],
    })


@practice_required
def guarantor_detail(request, guarantor_id):
    guarantor = selectors.guarantor_get(practice=request.practice, pk=guarantor_id)
    return render(request, "patients/guarantor.html", {
        "guarantor": guarantor, "balance": selectors.account_balance(patient=guarantor),
        "dependents": selectors.guarantor_dependents(guarantor=guarantor),
        "history": notifications_for_recipient(practice=request.practice, kind="patient",
                                               recipient_id=guarantor.pk),
        # Parts other apps add (statements): settings.ACCOUNT_PANELS, each `panel(request, guarantor)`.
        "panels": [import_string(path)(request, guarantor) for path in settings.ACCOUNT_PANELS],
    })


@admin_required
def import_upload(request):
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            patient_import = services.patient_import_create(practice=request.practice, actor=request.user,
                                                            upload=form.cleaned_data["file"])
        except ValidationError as exc:
            form.add_error("file", exc)
        else:
            return redirect("patient_import_detail", import_id=patient_import.pk)
    return render(request, "patients/import.html", {
        "form": form, "columns": CSV_COLUMNS,
        "imports": selectors.patient_imports(practice=request.practice)[:10],
    })


@admin_required
def import_template(request):
    return template_response(filename="patients-template.csv", columns=CSV_COLUMNS, rows=EXAMPLE_ROWS)


@admin_required
def import_detail(request, import_id):
    patient_import = selectors.patient_import_get(practice=request.practice, pk=import_id)
    return render(request, "patients/import_detail.html", {
        "imp": patient_import, "progress": services.patient_import_progress(patient_import=patient_import),
    })


@admin_required
def import_progress(request, import_id):
    patient_import = selectors.patient_import_get(practice=request.practice, pk=import_id)
    if request.htmx and not patient_import.in_progress:
        return HttpResponseClientRefresh()  # finished: show the whole result page
    return render(request, "patients/import_detail.html#progress", {
        "imp": patient_import, "progress": services.patient_import_progress(patient_import=patient_import),
    })


@admin_required
@require_POST
def import_confirm(request, import_id):
    patient_import = selectors.patient_import_get(practice=request.practice, pk=import_id)
    done = upload_confirm_request(services.PATIENT_IMPORTS, request, patient_import)
    if done is not None and done.status == "done":
        messages.success(request, f"Imported: {done.created} created, {done.updated} updated, "
                                  f"{done.unchanged} unchanged.")
    return redirect("patient_import_detail", import_id=import_id)
