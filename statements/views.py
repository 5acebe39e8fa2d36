
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRefresh

from patients.models import ImportStatus
from patients.uploads import template_response, upload_confirm_request
from practices.access import addon_required, admin_required, practice_required

from . import csv_batches, preview, selectors, services
from .forms import (
    BatchSinceForm,
    BatchUploadForm,
    GuarantorPickForm,
    ProfileCreateForm,
    ProfileForm,
    StepForm,
    TestSendForm,
)
from .models import profile_tag
from .profiles import profile_has_changes, step_test_send
from .records import CSV_COLUMNS

EXAMPLE_ROWS = [["PMS-1001", "2026-11-01", "2026-11-25", "125.00", "250.00"],
                ["PMS-1007", "2026-11-01", "2026-11-25", "0.00", "-15.00"]]
MAX_CURSOR = 2**63 - 1


def _cursor(request, name: str) -> int | None:
    """A keyset cursor from the query string; a bad one says so and starts from the first page."""
    value = request.GET.get(name, "")
    if not value:
        return None
    # ASCII digits only, and few enough to convert (Python refuses over 4,300 digits).
    if value.isascii() and value.isdigit() and len(value) <= 19 and 0 < int(value) <= MAX_CURSOR:
        return int(value)
    messages.error(request, f"The page link ({name}) is not valid; showing the first page.")
    return None


def _errors(exc: ValidationError) -> str:
    return " ".join(exc.messages)


def _done(request, call):
    """call()'s result, or None with its refusal in the request's messages."""
    try:
        return call()
    except ValidationError as exc:
        messages.error(request, _errors(exc))
        return None


@practice_required
def index(request):
    since = BatchSinceForm(request.GET)
    rows, next_before = selectors.batches_page(practice=request.practice, before=_cursor(request, "before"),
                                               since=since.start(request.practice.tz))
    addon = request.practice.addon_balance_notifications
    return render(request, "statements/index.html", {
        "batches": rows, "next_before": next_before, "addon": addon, "since": since,
        "panel": selectors.balance_notification_counts(practice=request.practice) if addon else None,
        "profiles": [{"name": p.name, "tag": profile_tag(p.pk)}
                     for p in selectors.profiles(practice=request.practice)] if addon else [],
    })


@practice_required
def batch_detail(request, batch_id):
    batch = selectors.batch_get(practice=request.practice, pk=batch_id)
    rows, next_after = selectors.batch_statements_page(batch=batch, after=_cursor(request, "after"))
    addon = request.practice.addon_balance_notifications
    template = "statements/batch.html#statements" if request.htmx else "statements/batch.html"
    return render(request, template, {
        "batch": batch, "statements": rows, "next_after": next_after, "addon": addon,
        "counts": selectors.batch_status_counts(batch=batch) if addon else [],
    })


# --- CSV upload (the patient import's mechanism) ---

@admin_required
def upload(request):
    form = BatchUploadForm(request.POST or None, request.FILES or None, practice=request.practice)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            row = csv_batches.statement_upload_create(practice=request.practice, actor=request.user,
                                                      upload=data["file"], batch_id=data["batch_id"],
                                                      profile=data["profile"])
        except ValidationError as exc:
            on_batch_id = "batch_id" in getattr(exc, "error_dict", {})
            form.add_error("batch_id" if on_batch_id else "file", _errors(exc))
        else:
            return redirect("statement_upload_detail", upload_id=row.pk)
    return render(request, "statements/upload.html", {
        "form": form, "columns": CSV_COLUMNS,
        "uploads": selectors.statement_uploads(practice=request.practice)[:10]})


@admin_required
def upload_template(request):
    return template_response(filename="statements-template.csv", columns=CSV_COLUMNS, rows=EXAMPLE_ROWS)


def _upload_context(row):
    return {"imp": row, "progress": csv_batches.statement_upload_progress(upload=row),
            "progress_url": reverse("statement_upload_progress", args=[row.pk]),
            "detail_url": reverse("statement_upload_detail", args=[row.pk]),
            "confirm_url": reverse("statement_upload_confirm", args=[row.pk])}


@admin_required
def upload_detail(request, upload_id):
    row = selectors.statement_upload_get(practice=request.practice, pk=upload_id)
    return render(request, "statements/upload_detail.html", _upload_context(row))


@admin_required
def upload_progress(request, upload_id):
    row = selectors.statement_upload_get(practice=request.practice, pk=upload_id)
    if request.htmx and not row.in_progress:
        return HttpResponseClientRefresh()  # finished: show the whole result page
    return render(request, "components/upload_progress.html", _upload_context(row))


@admin_required
@require_POST
def upload_confirm(request, upload_id):
    row = selectors.statement_upload_get(practice=request.practice, pk=upload_id)
    done = upload_confirm_request(csv_batches.STATEMENT_UPLOADS, request, row)
    if done is not None and done.status == ImportStatus.DONE and done.received_batch_id:
        return redirect("statement_batch", batch_id=done.received_batch_id)
    return redirect("statement_upload_detail", upload_id=upload_id)


# --- profiles ---

@admin_required
@addon_required("balance_notifications")
def profile_list(request):
    form = ProfileCreateForm(request.POST or None, practice=request.practice)
    if request.method == "POST" and form.is_valid():
        try:
            profile = services.profile_create(practice=request.practice, actor=request.user,
                                              **form.cleaned_data)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            return redirect("statement_profile", profile_id=profile.pk)
    return render(request, "statements/profiles.html", {
        "form": form, "profiles": selectors.profiles(practice=request.practice)})


def _profile_context(request, profile, **extra):
    return {"profile": profile, "steps": selectors.profile_steps(profile=profile),
            "changed": profile_has_changes(profile), "step_form": StepForm(practice=request.practice),
            "pick_form": GuarantorPickForm(), "test_form": TestSendForm(),
            "queue_tag": profile_tag(profile.pk),
            "proof": preview.proof_lines(practice=request.practice, profile=profile), **extra}


@admin_required
@addon_required("balance_notifications")
def profile_detail(request, profile_id):
    profile = selectors.profile_get(practice=request.practice, pk=profile_id)
    form = ProfileForm(request.POST or None, initial={"name": profile.name, "send_hour": profile.send_hour,
                                                      "active": profile.active})
    if request.method == "POST" and form.is_valid():
        try:
            services.profile_update(profile=profile, actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, _errors(exc))
        else:
            messages.success(request, "Profile saved.")
            return redirect("statement_profile", profile_id=profile.pk)
    return render(request, "statements/profile.html", _profile_context(request, profile, form=form))


@admin_required
@addon_required("balance_notifications")
@require_POST
def profile_default(request, profile_id):
    profile = selectors.profile_get(practice=request.practice, pk=profile_id)
    if _done(request, lambda: services.profile_make_default(profile=profile, actor=request.user)):
        messages.success(request, f"{profile.name} is now the default profile.")
    return redirect("statement_profile", profile_id=profile.pk)


@admin_required
@addon_required("balance_notifications")
def step_edit(request, profile_id, step_id=None):
    """Add a step (no step_id) or change one; htmx gets the steps section back."""
    profile = selectors.profile_get(practice=request.practice, pk=profile_id)
    step = selectors.step_get(profile=profile, pk=step_id) if step_id else None
    initial = {f: getattr(step, f) for f in StepForm.base_fields} if step else None
    form = StepForm(request.POST or None, initial=initial, practice=request.practice)
    if request.method == "POST" and form.is_valid():
        try:
            services.step_save(profile=profile, actor=request.user, step=step, **form.cleaned_data)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, "Step saved. Approve the proof for it to send.")
            return redirect("statement_profile", profile_id=profile.pk)
    template = "statements/step.html#step-form" if request.htmx else "statements/step.html"
    return render(request, template, {"profile": profile, "step": step, "form": form})


@admin_required
@addon_required("balance_notifications")
@require_POST
def step_delete(request, profile_id, step_id):
    profile = selectors.profile_get(practice=request.practice, pk=profile_id)
    services.step_delete(step=selectors.step_get(profile=profile, pk=step_id), actor=request.user)
    messages.success(request, "Step removed. Approve the proof for the change to send.")
    return redirect("statement_profile", profile_id=profile.pk)


@admin_required
@addon_required("balance_notifications")
@require_POST
def step_test(request, profile_id, step_id):
    profile = selectors.profile_get(practice=request.practice, pk=profile_id)
    step = selectors.step_get(profile=profile, pk=step_id)
    form = TestSendForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError(form.errors["phone"][0])
        step_test_send(step=step, actor=request.user, phone=form.cleaned_data["phone"])
        to = request.user.email if step.channel == "email" else form.cleaned_data["phone"]
        messages.success(request, f"A test {step.get_channel_display().lower()} is on its way to {to}.")
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    return redirect(reverse("statement_profile", args=[profile.pk]) + "#proof")


@admin_required
@addon_required("balance_notifications")
@require_POST
def proof_approve(request, profile_id):
    profile = selectors.profile_get(practice=request.practice, pk=profile_id)
    version = _done(request, lambda: services.proof_approve(profile=profile, actor=request.user))
    if version:
        messages.success(request, f"Proof v{version.number} approved: new statements send it.")
    return redirect("statement_profile", profile_id=profile.pk)


@admin_required
@addon_required("balance_notifications")
@require_POST
def profile_guarantor(request, profile_id):
    """The proof and the cadence preview for a guarantor chosen by PMS id (posted, so the id
    stays out of URLs); htmx gets the two panels back."""
    profile = selectors.profile_get(practice=request.practice, pk=profile_id)
    form = GuarantorPickForm(request.POST)
    guarantor = None
    if form.is_valid() and form.cleaned_data["guarantor"]:
        guarantor = selectors.guarantor_by_external_id(practice=request.practice,
                                                       external_id=form.cleaned_data["guarantor"])
        if guarantor is None:
            form.add_error("guarantor", "No guarantor with that PMS id in this office.")
    context = _profile_context(request, profile, pick_form=form, guarantor=guarantor)
    if guarantor is not None:
        context["proof"] = preview.proof_lines(practice=request.practice, profile=profile,
                                               guarantor=guarantor)
        context["cadence"] = preview.profile_preview(practice=request.practice, profile=profile,
                                                     guarantor=guarantor)
    template = "statements/profile.html#for-guarantor" if request.htmx else "statements/profile.html"
    return render(request, template, {**context, "form": ProfileForm(initial={
        "name": profile.name, "send_hour": profile.send_hour, "active": profile.active})})
