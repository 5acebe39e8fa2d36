"""Provider webhooks: verify the signature first, then hand the event to one service."""

from anymail import urls as anymail_urls
from anymail.exceptions import AnymailWebhookValidationFailure
from anymail.utils import get_request_basic_auth
from django.conf import settings
from django.http import HttpResponse, HttpResponseForbidden
from django.shortcuts import render
from django.urls import URLPattern
from django.utils.crypto import constant_time_compare
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from . import provider_events
from .models import Channel, Notification, OptOut, RecipientKind
from .services import opt_out_record
from .unsubscribe import LinkExpired, unsubscribe_reference


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


def _anymail_credentials_valid(request) -> bool:
    """Tracking webhooks authenticate with ANYMAIL["WEBHOOK_SECRET"] (HTTP basic auth, which
    every ESP we support can send), checked here whatever the ESP: with no secret configured
    (the embedded default, SMTP) nothing is accepted."""
    configured = (getattr(settings, "ANYMAIL", None) or {}).get("WEBHOOK_SECRET") or []
    allowed = [a for a in ([configured] if isinstance(configured, str) else configured) if a]
    presented = get_request_basic_auth(request) or ""
    return any(constant_time_compare(presented, secret) for secret in allowed)


def _authenticated(view):
    """Credentials first; anymail's own check (and its signature checks) then run as well. A
    failed check is 403 here, where anymail would answer 400."""

    @csrf_exempt
    def wrapped(request, *args, **kwargs):
        if not _anymail_credentials_valid(request):
            return HttpResponseForbidden("bad credentials")
        try:
            return view(request, *args, **kwargs)
        except AnymailWebhookValidationFailure:
            return HttpResponseForbidden("bad credentials")

    return wrapped


# Tracking events only: inbound email is not something this product receives.
anymail_patterns = [URLPattern(p.pattern, _authenticated(p.callback), p.default_args, p.name)
                    for p in anymail_urls.urlpatterns if p.name.endswith("_tracking_webhook")]


@csrf_exempt
def email_unsubscribe(request, token):
    """The List-Unsubscribe target: GET shows a button, POST (also one-click) opts out."""
    try:
        reference = unsubscribe_reference(token)
    except LinkExpired:
        return render(request, "notifications/unsubscribe.html", {"expired": True}, status=404)
    n = reference and Notification.objects.select_related("practice").filter(
        **reference, channel=Channel.EMAIL, recipient_kind=RecipientKind.PATIENT).first()
    if not n:
        return render(request, "notifications/unsubscribe.html", {"invalid": True}, status=404)
    done = False
    if request.method == "POST":
        opt_out_record(practice=n.practice, channel=Channel.EMAIL, address=n.address,
                       source=OptOut.Source.UNSUBSCRIBE)
        done = True
    return render(request, "notifications/unsubscribe.html",
                  {"practice": n.practice, "done": done, "token": token})
