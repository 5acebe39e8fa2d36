"""Error reports to Sentry carry no patient data: a real sentry_sdk client, events kept in memory.

A view that fails while handling a request full of patient data (body, query string, cookies,
headers, local variables, a log line and an exception naming an address and a phone number) is
reported; the event must keep the failure's shape and lose every address and number.
"""

import json
import logging

import pytest
import sentry_sdk
from django.urls import path
from sentry_sdk.transport import Transport

from config.error_reports import error_report_options, scrub_text

EMAIL, PHONE, E164 = "maria.garcia@example.test", "(312) 555-0142", "+13125550142"


class MemoryTransport(Transport):
    def __init__(self, options=None):
        super().__init__(options)
        self.events = []

    def capture_envelope(self, envelope):
        for item in envelope.items:
            if item.type == "event":
                self.events.append(json.loads(item.payload.get_bytes()))


def failing_view(request):
    patient = {"email": EMAIL, "mobile": E164}  # a local variable that must not be sent
    logging.getLogger("payments").warning("looking up %s at %s", patient["email"], PHONE)
    raise ValueError(f"no guarantor for {EMAIL} / {E164}")


urlpatterns = [path("fail/", failing_view)]


@pytest.fixture
def reported(settings):
    settings.ROOT_URLCONF = __name__
    settings.DEBUG_PROPAGATE_EXCEPTIONS = False
    transport = MemoryTransport()
    sentry_sdk.init(**error_report_options(dsn="https://public@sentry.invalid/1", environment="test"),
                    transport=transport)
    yield transport.events
    sentry_sdk.get_client().close()
    sentry_sdk.init()  # no client: nothing else in the suite reports


@pytest.mark.django_db
def test_a_failing_request_is_reported_without_patient_data(client, reported):
    client.raise_request_exception = False
    client.cookies["sessionid"] = "session-secret"
    response = client.post(f"/fail/?email={EMAIL}&phone={E164}",
                           data={"email": EMAIL, "note": f"call {PHONE}"},
                           headers={"Authorization": "Bearer bo_live_secret", "X-Patient-Email": EMAIL})
    assert response.status_code == 500
    sentry_sdk.flush()
    [event] = [e for e in reported if e.get("exception")]
    text = json.dumps(event)
    for secret in (EMAIL, PHONE, E164, "3125550142", "session-secret", "bo_live_secret", "maria.garcia"):
        assert secret not in text
    assert set(event.get("request", {})) <= {"method"}  # no url, query, body, cookies, headers
    assert event["exception"]["values"][-1]["value"] == "no guarantor for [redacted] / [redacted]"
    assert event["exception"]["values"][-1]["type"] == "ValueError"
    frames = event["exception"]["values"][-1]["stacktrace"]["frames"]
    assert frames and all("vars" not in frame for frame in frames)
    assert any(c.get("message") == "looking up %s at %s" or "[redacted]" in (c.get("message") or "")
               for c in event["breadcrumbs"]["values"])
    assert "user" not in event


def test_addresses_and_numbers_in_any_text_are_redacted():
    assert scrub_text("to o'brien+x@mail.example.co.uk or 312.555.0142, ref 2026-11-27 10:30") == (
        "to [redacted] or [redacted], ref 2026-11-27 10:30")
    assert scrub_text(f"{E164} / 312-555-0142 / 3125550142") == "[redacted] / [redacted] / [redacted]"
