from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import push_url

from practices.access import admin_required, practice_required

from . import selectors, services
from .forms import BulkActionForm, MessagingSettingsForm, NotificationFilterForm

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
    response = render(request, template, {
        "form": form, "page": page, "view": view, "title": TITLES[view], "query": query,
        "carried": carried, "page_by_post": by_post, "counts": counts})
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
