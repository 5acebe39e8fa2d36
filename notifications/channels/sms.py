"""SMS and voice through the Twilio REST client."""

import json

from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.base.version import Version
from twilio.twiml.voice_response import VoiceResponse

from .base import ChannelBackend, FateUnknown, PermanentError, TemporaryError, status_callback_url
from .twilio_client import TwilioConnectionError, twilio_client

_MESSAGES_URL = "https://api.twilio.com/2010-04-01/Accounts/{}/Messages.json"

# Twilio error codes that no retry can fix: invalid number, unsubscribed recipient, not a
# mobile number, landline or unreachable carrier, blocked, unknown destination.
PERMANENT_CODES = {21211, 21408, 21610, 21612, 21614, 30004, 30005, 30006}


def twilio_error(exc: Exception):
    """Class a Twilio client exception as a temporary or a permanent channel error."""
    if isinstance(exc, TwilioRestException):
        code = exc.code or ""
        if code in PERMANENT_CODES:
            return PermanentError(f"Twilio {code}: {exc.msg}", code)
        status = exc.status or 0
        # 429 and 5xx pass; 401/403 are our credentials, which an operator can fix in time.
        if status == 429 or status >= 500 or status in (401, 403):
            return TemporaryError(f"Twilio HTTP {status}: {exc.msg}", code or status)
        return PermanentError(f"Twilio HTTP {status} {code}: {exc.msg}", code or status)
    if isinstance(exc, TwilioConnectionError):  # refused, reset, timed out
        return TemporaryError(f"Twilio unreachable: {type(exc.cause).__name__}")
    return TemporaryError(f"Twilio unreachable: {type(exc).__name__}")


class TwilioSmsChannel(ChannelBackend):
    name = "sms"

    def send(self, notification, sender: str) -> str:
        """POST the message to Twilio's Messages endpoint over the client's keep-alive connection.

        The same request the client's `messages.create` makes, without building a
        MessageInstance per message (half the worker's CPU per text at thousands a second);
        errors are built by the client's own `Version.exception`, so they class the same.
        """
        data = {"To": notification.address, "Body": notification.body,
                "StatusCallback": status_callback_url(notification.pk)}
        if sender.startswith("MG"):
            data["MessagingServiceSid"] = sender
        else:
            data["From"] = sender
        client = twilio_client()
        url = _MESSAGES_URL.format(client.account_sid)
        try:
            response = client.http_client.request(
                "POST", url, data=data, auth=client.auth,
                headers={"Accept": "application/json"})
            if response.status_code < 200 or response.status_code >= 300:
                raise Version.exception("POST", url, response, "Unable to create record")
            return json.loads(response.text)["sid"]
        except TwilioException as exc:
            raise twilio_error(exc) from exc
        except (ValueError, KeyError) as exc:
            raise TemporaryError(f"Twilio answered without a message sid: {type(exc).__name__}") from exc

    def lookup(self, notification) -> str | None:
        """Ask Twilio for recent messages to the address with the same text.

        A message sid that no other notification has recorded can only come from this one's
        interrupted send (every text to this practice's numbers goes through the outbox).
        """
        from ..models import Notification

        try:
            candidates = twilio_client().messages.list(to=notification.address, limit=50)
        except TwilioException as exc:
            raise FateUnknown(f"Twilio lookup failed: {type(exc).__name__}") from exc
        sids = [m.sid for m in candidates if m.body == notification.body]
        if not sids:
            return None
        taken = set(Notification.objects.filter(provider_message_id__in=sids)
                    .exclude(pk=notification.pk).values_list("provider_message_id", flat=True))
        free = [sid for sid in sids if sid not in taken]
        return free[0] if free else None


def voice_twiml(text: str) -> str:
    response = VoiceResponse()
    response.say(text)
    return str(response)


class TwilioVoiceChannel(ChannelBackend):
    name = "voice"

    def send(self, notification, sender: str) -> str:
        try:
            return twilio_client().calls.create(
                to=notification.address, from_=sender, twiml=voice_twiml(notification.body),
                status_callback=status_callback_url(notification.pk),
                status_callback_event=["initiated", "ringing", "answered", "completed"]).sid
        except TwilioException as exc:
            raise twilio_error(exc) from exc
