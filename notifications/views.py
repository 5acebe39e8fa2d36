from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import push_url

from practices.access import admin_required, practice_required

from . import message_templates, rendering, selectors, services
from .forms import BulkActionForm, MessageTemplateForm, MessagingSettingsForm, NotificationFilterForm
from .models import TemplatePurpose

TITLES = {"queue": "Notification queue", "history": "Notification history",
          "errors": "Manage errors"}


def _filter_data(request):
    """What the filters were given. A recipient is searched only by POST: names, phones and
    emails are patient data and stay out of URLs, browser history and access logs; the other
    filters also work as plain, bookmarkable GET links."""
    if request.method == "POST":
        return request.POST
    data = request.GET.copy()
    data.pop("recipient", None)
    return data


def _list(request, view: str):
    form = NotificationFilterForm(_filter_data(request))
    page = counts = None
    carried = [(name, value) for name in form.fields if name != "after"
               for value in form.data.getlist(name) if value.strip()]
    by_post = any(name == "recipient" for name, _ in carried)
    if form.is_valid():
        filters = form.filters(request.practice.tz)
        qs = selectors.notification_list(practice=request.practice, view=view, filters=filters)
        page = selectors.notification_page(qs, after=form.cleaned_data["after"])
        if by_post:  # a few people's rows: counted here rather than by a GET of the counts
            counts = selectors.status_counts(practice=request.practice, view=view, filters=filters,
                                             rows=qs)
    query = urlencode([(name, value) for name, value in carried if name != "recipient"])
    template = "notifications/list.html"
    if request.htmx and not request.htmx.boosted:
        template += "#results"
    tag = form.cleaned_data.get("tag", "") if form.is_valid() else ""
    response = render(request, template, {
        "form": form, "page": page, "view": view, "title": TITLES[view], "query": query,
        "carried": carried, "page_by_post": by_post, "counts": counts,
        "tag_label": selectors.tag_label(practice=request.practice, tag=tag) if tag else ""})
    if request.method == "POST" and request.htmx:
        push_url(response, f"{request.path}?{query}" if query else request.path)
    return response


@practice_required
@require_http_methods(["GET", "POST"])
def index(request):
    return _list(request, "queue")


@practice_required
@require_http_methods(["GET", "POST"])
def history(request):
    return _list(request, "history")


@practice_required
@require_http_methods(["GET", "POST"])
def errors(request):
    return _list(request, "errors")


@practice_required
def counts(request):
    """Counts and percentages per status for the filters: its own request, so the list
    answers first on a practice with millions of rows."""
    view = request.GET.get("view", "history")
    form = NotificationFilterForm(_filter_data(request))
    if view not in TITLES or not form.is_valid():
        return render(request, "notifications/counts.html", {"invalid": True}, status=400)
    return render(request, "notifications/counts.html", {"counts": selectors.status_counts(
        practice=request.practice, view=view, filters=form.filters(request.practice.tz))})


@practice_required
def detail(request, notification_id):
    notification = selectors.notification_get(practice=request.practice, pk=notification_id)
    return render(request, "notifications/detail.html", {
        "n": notification, "events": selectors.notification_events(notification=notification)})


@practice_required
@require_POST
def cancel(request, notification_id):
    notification = selectors.notification_get(practice=request.practice, pk=notification_id)
    try:
        services.notification_cancel(notification=notification, actor=request.user)
        messages.success(request, "The message is cancelled.")
    except ValidationError as exc:
        messages.error(request, exc.messages[0])
    return redirect("notification_detail", notification_id=notification.pk)


@practice_required
@require_POST
def retry(request, notification_id):
    notification = selectors.notification_get(practice=request.practice, pk=notification_id)
    try:
        services.notification_retry(notification=notification, actor=request.user)
        messages.success(request, "The message will be sent again.")
    except ValidationError as exc:
        messages.error(request, exc.messages[0])
    return redirect("notification_detail", notification_id=notification.pk)


@practice_required
@require_POST
def bulk(request):
    form = BulkActionForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            messages.error(request, errors[0])
        return redirect("notification_errors")
    result = services.notifications_bulk_action(practice=request.practice,
                                                ids=form.cleaned_data["ids"],
                                                action=form.cleaned_data["action"],
                                                actor=request.user)
    messages.success(request, f"{result['done']} message(s) updated"
                     + (f", {result['refused']} left as they were." if result["refused"] else "."))
    return redirect("notification_errors")


@admin_required
def messaging_settings(request):
    instance = selectors.messaging_settings_get(practice=request.practice)
    form = MessagingSettingsForm(request.POST or None, instance=instance)
    if request.method == "POST" and form.is_valid():
        services.messaging_settings_update(form=form, practice=request.practice, actor=request.user)
        messages.success(request, "Messaging settings saved.")
        return redirect("messaging_settings")
    return render(request, "notifications/settings.html", {"form": form})


@practice_required
def dev_outbox(request):
    if not settings.MESSAGING_SANDBOX:
        raise Http404("The dev outbox exists only when messages go to the sandbox.")
    page = Paginator(selectors.sandbox_messages(practice=request.practice,
                                                user_email=request.user.email), 50
                     ).get_page(request.GET.get("page"))
    return render(request, "notifications/dev_outbox.html", {"page": page})


@practice_required
def dev_outbox_message(request, message_id):
    if not settings.MESSAGING_SANDBOX:
        raise Http404("The dev outbox exists only when messages go to the sandbox.")
    message = selectors.sandbox_message_get(practice=request.practice,
                                            user_email=request.user.email, pk=message_id)
    return render(request, "notifications/dev_outbox_message.html", {"message": message})


# --- message templates: one editor for every purpose (balance, on-demand, payment request) ---

def _next_url(request) -> str:
    """Where to go back after saving: a local path the caller passed, else the template list."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target.startswith("/") and url_has_allowed_host_and_scheme(target, {request.get_host()}):
        return target
    return ""


@admin_required
def message_template_list(request):
    purpose = request.GET.get("purpose", "")
    purpose = purpose if purpose in TemplatePurpose.values else ""
    return render(request, "notifications/templates.html", {
        "templates": message_templates.message_templates(practice=request.practice, purpose=purpose),
        "purpose": purpose, "purposes": TemplatePurpose.choices})


def _editor(request, template=None):
    """Create a template (no `template`) or save a new version of one."""
    current = message_templates.message_template_current(template=template) if template else None
    initial = ({"name": template.name, "purpose": template.purpose, "channel": template.channel,
                "subject": current.subject if current else "", "body": current.body if current else ""}
               if template else {"purpose": request.GET.get("purpose", "balance"),
                                 "channel": request.GET.get("channel", "email")})
    form = MessageTemplateForm(request.POST or None, initial=initial, template=template)
    if request.method == "POST" and form.is_valid():
        try:
            saved = message_templates.message_template_save(
                practice=request.practice, actor=request.user, template=template, **form.cleaned_data)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, f"Saved {saved.name} v{saved.current_version}.")
            return redirect(_next_url(request) or reverse("message_template_edit", args=[saved.pk]))
    purpose = template.purpose if template else form["purpose"].value()
    channel = template.channel if template else form["channel"].value()
    return render(request, "notifications/template_edit.html", {
        "form": form, "template": template, "next": _next_url(request),
        "versions": message_templates.message_template_versions(template=template)[:20] if template else [],
        "fields": [f for f in rendering.MERGE_FIELDS.values()
                   if purpose in f.purposes and channel in f.channels],
        "check": _check(purpose, channel, form["subject"].value() or "", form["body"].value() or "",
                        request.practice)})


def _check(purpose, channel, subject, body, practice) -> dict:
    problems = rendering.template_check(purpose=purpose or "", channel=channel or "", subject=subject,
                                        body=body)
    preview = None
    if not problems:
        preview = rendering.sample_render(subject=subject, body=body, practice=practice)
    return {"problems": problems, "preview": preview, "channel": channel,
            "facts": rendering.text_facts(preview[1] if preview else body) if channel == "sms" else None}


@admin_required
def message_template_new(request):
    return _editor(request)


@admin_required
def message_template_edit(request, template_id):
    return _editor(request, message_templates.message_template_get(practice=request.practice, pk=template_id))


@admin_required
@require_POST
def message_template_check(request):
    """As the admin types (htmx): the problems, the text with sample values and, for a text, its
    characters, encoding and segments."""
    form = request.POST
    return render(request, "notifications/_template_check.html", {"check": _check(
        form.get("purpose", ""), form.get("channel", ""), form.get("subject", "")[:1000],
        form.get("body", "")[:25_000], request.practice)})
