"""Channels against loopback fakes of Twilio's REST API, Postmark's API and an SMTP server."""

from datetime import timedelta

import pytest
from django.utils import timezone

from notifications import dispatch
from notifications.models import OptOut, Status
from notifications.tasks import notifications_deliver


def _refreshed(n):
    n.refresh_from_db()
    return n


def test_sms_goes_through_the_practice_messaging_service_with_a_status_callback(
        world, fake_twilio, messaging, schedule, daytime):
    n = schedule()
    notifications_deliver([n.pk])
    [sent] = fake_twilio.messages
    assert sent["to"] == "+13125550111"
    assert sent["messaging_service_sid"] == messaging.twilio_messaging_service_sid
    assert sent["status_callback"] == f"http://127.0.0.1:8000/webhooks/twilio/status?n={n.pk}"
    n = _refreshed(n)
    assert (n.status, n.provider_message_id, n.sender) == (
        Status.SENT, sent["sid"], messaging.twilio_messaging_service_sid)


def test_sms_uses_the_from_number_without_a_messaging_service(world, fake_twilio, messaging,
                                                              schedule, daytime):
    messaging.twilio_messaging_service_sid = ""
    messaging.save()
    notifications_deliver([schedule().pk])
    assert fake_twilio.messages[0]["from"] == "+13125550100"


def test_voice_reads_the_message_with_twiml(world, fake_twilio, messaging, schedule, daytime):
    world.practice_a.addon_voice = True
    world.practice_a.save()
    n = schedule(channel="voice", addon="voice", body="Lakeside Dental calling about a balance.")
    notifications_deliver([n.pk])
    [call] = fake_twilio.calls
    assert call["from"] == "+13125550100"
    assert "<Say>Lakeside Dental calling about a balance.</Say>" in call["twiml"]
    assert call["status_callback"].endswith(f"/webhooks/twilio/status?n={n.pk}")
    assert _refreshed(n).status == Status.SENT


@pytest.mark.parametrize("code", [21211, 21610, 21614])
def test_permanent_twilio_errors_are_not_retried(world, fake_twilio, schedule, daytime, code):
    fake_twilio.errors_for["+13125550111"] = (400, code)
    n = schedule()
    notifications_deliver([n.pk])
    n = _refreshed(n)
    assert n.status == Status.UNDELIVERABLE_PERMANENT
    assert str(code) in n.last_error and n.attempts == 1
    daytime.shift(timedelta(days=1))
    assert dispatch.drain_inline()["sent"] == 0
    assert _refreshed(n).attempts == 1
    assert OptOut.objects.filter(address="+13125550111").exists() == (code == 21610)


@pytest.mark.parametrize("status,code", [(503, 20500), (429, 20429), (500, 20500)])
def test_temporary_errors_retry_with_backoff_then_send(world, fake_twilio, schedule, daytime,
                                                       status, code):
    fake_twilio.fail_next = [(status, code)]
    n = schedule()
    notifications_deliver([n.pk])
    n = _refreshed(n)
    assert n.status == Status.UNDELIVERABLE_RETRY and n.attempts == 1
    assert n.send_at > timezone.now() + timedelta(seconds=50)
    assert dispatch.drain_inline()["sent"] == 0  # not before its backoff
    daytime.shift(timedelta(minutes=2, seconds=30))
    assert dispatch.drain_inline()["sent"] == 1
    n = _refreshed(n)
    assert n.status == Status.SENT and n.attempts == 2
    assert len(fake_twilio.messages) == 1


def test_retries_are_bounded(world, fake_twilio, schedule, daytime, settings):
    settings.NOTIFICATIONS_MAX_ATTEMPTS = 3
    fake_twilio.fail_next = [(503, 20500)] * 10
    n = schedule()
    for _ in range(5):
        dispatch.drain_inline()
        daytime.shift(timedelta(hours=1))
    n = _refreshed(n)
    assert n.status == Status.DELIVERY_ERROR and n.attempts == 3
    assert len(fake_twilio.fail_next) == 7


def test_twilio_unreachable_is_a_temporary_error(world, fake_twilio, schedule, daytime, settings):
    settings.TWILIO_API_BASE_URL = "http://127.0.0.1:9"  # nothing listens on the discard port
    n = schedule()
    notifications_deliver([n.pk])
    n = _refreshed(n)
    assert n.status == Status.UNDELIVERABLE_RETRY and "unreachable" in n.last_error


def test_email_through_an_esp_records_its_message_id(world, fake_postmark, schedule):
    n = schedule(channel="email", address="pat@example.test", html_body="<p>Balance</p>")
    notifications_deliver([n.pk])
    [sent] = fake_postmark.sent
    assert sent["To"] == "pat@example.test" and sent["HtmlBody"] == "<p>Balance</p>"
    assert sent["Metadata"] == {"notification": str(n.pk), "practice": "lakeside"}
    headers = {h["Name"]: h["Value"] for h in sent["Headers"]}
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert _refreshed(n).provider_message_id == sent["MessageID"]


def test_esp_inactive_recipient_is_permanent_and_server_error_temporary(world, fake_postmark,
                                                                       schedule):
    fake_postmark.inactive.add("gone@example.test")
    gone = schedule(channel="email", address="gone@example.test")
    fake_postmark.fail_next = [500]
    flaky = schedule(channel="email", address="flaky@example.test")
    notifications_deliver([flaky.pk])
    notifications_deliver([gone.pk])
    assert _refreshed(gone).status == Status.UNDELIVERABLE_PERMANENT
    assert _refreshed(flaky).status == Status.UNDELIVERABLE_RETRY


def test_email_through_smtp(world, smtp_sink, schedule):
    smtp_sink.refuse.add("refused@example.test")
    ok = schedule(channel="email", address="pat@example.test")
    refused = schedule(channel="email", address="refused@example.test")
    notifications_deliver([ok.pk, refused.pk])
    [message] = smtp_sink.messages
    assert message["to"] == ["pat@example.test"] and "You have a balance" not in message["data"]
    assert "Lakeside Dental: you have a balance." in message["data"]
    assert _refreshed(ok).status == Status.SENT
    assert _refreshed(refused).status == Status.UNDELIVERABLE_PERMANENT
