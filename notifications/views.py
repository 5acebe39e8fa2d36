from django.conf import settings
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import render

from practices.access import practice_required

from . import selectors


@practice_required
def index(request):
    return render(request, "notifications/index.html")


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
