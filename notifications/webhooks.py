"""Provider webhooks: verify the signature first, then hand the event to one service."""

from anymail import urls as anymail_urls
from anymail.exceptions import AnymailWebhookValidationFailure
from django.conf import settings
from django.http import HttpResponse, HttpResponseForbidden
from django.shortcuts import get_object_or_404, render
from django.urls import URLPattern
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from . import provider_events
from .models import Channel, Notification, OptOut
from .services import opt_out_record
from .unsubscribe import unsubscribe_reference


def _twilio_signature_valid(request) -> bool:
    # Twilio signs the URL it called: our public address, not whatever the proxy passed on.
    url = settings.PUBLIC_BASE_URL + request.get_full_path()
    validator = RequestValidator(settings.TWILIO_AUTH_TOKEN)
    return bool(settings.TWILIO_AUTH_TOKEN) and validator.validate(
        url, request.POST.dict(), request.headers.get("X-Twilio-Signature", ""))


@csrf_exempt
@require_POST
def twilio_status(request):
    if not _twilio_signature_valid(request):
        return HttpResponseForbidden("bad signature")
    provider_events.twilio_status_record(params=request.POST.dict(),
                                         notification_id=request.GET.get("n", ""))
    return HttpResponse(status=204)


@csrf_exempt
@require_POST
def twilio_inbound(request):
    if not _twilio_signature_valid(request):
        return HttpResponseForbidden("bad signature")
    reply = provider_events.twilio_inbound_record(params=request.POST.dict())
    response = MessagingResponse()
    if reply:
        response.message(reply)
    return HttpResponse(str(response), content_type="text/xml")


def _forbid_bad_auth(view):
    """anymail answers 400 to a failed webhook check; our webhooks answer 403."""

    @csrf_exempt
    def wrapped(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except AnymailWebhookValidationFailure:
            return HttpResponseForbidden("bad credentials")

    return wrapped


anymail_patterns = [URLPattern(p.pattern, _forbid_bad_auth(p.callback), p.default_args, p.name)
                    for p in anymail_urls.urlpatterns]


@csrf_exempt
def email_unsubscribe(request, token):
    """The List-Unsubscribe target: GET shows a button, POST (also one-click) opts out."""
    reference = unsubscribe_reference(token)
    if reference is None:
        return render(request, "notifications/unsubscribe.html", {"invalid": True}, status=404)
    n = get_object_or_404(Notification.objects.select_related("practice"), **reference,
                          channel=Channel.EMAIL)
    done = False
    if request.method == "POST":
        opt_out_record(practice=n.practice, channel=Channel.EMAIL, address=n.address,
                       source=OptOut.Source.UNSUBSCRIBE)
        done = True
    return render(request, "notifications/unsubscribe.html",
                  {"practice": n.practice, "done": done, "token": token})
