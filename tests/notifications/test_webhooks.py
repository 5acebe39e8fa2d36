"""Provider webhooks: signatures, idempotency, status paths, STOP/START/HELP, bounces."""

import base64
import json
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from twilio.request_validator import RequestValidator

from notifications import dispatch
from notifications.models import (
    MessagingSettings,
    Notification,
    NotificationDue,
    NotificationEvent,
    OptOut,
    Status,
)
from notifications.tasks import notifications_deliver
from notifications.unsubscribe import unsubscribe_token

STATUS_URL = "/webhooks/twilio/status"
INBOUND_URL = "/webhooks/twilio/inbound"


def twilio_post(client, path, params, *, forged=False):
    url = settings.PUBLIC_BASE_URL + path
    token = "not-the-token" if forged else settings.TWILIO_AUTH_TOKEN
    signature = RequestValidator(token).compute_signature(url, params)
    return client.post(path, params, HTTP_X_TWILIO_SIGNATURE=signature)


@pytest.fixture
def sent_sms(world, schedule, fake_twilio, daytime):
    n = schedule()
    notifications_deliver([n.pk])
    n.refresh_from_db()
    assert n.status == Status.SENT
    return n


def _status(client, n, status, **extra):
    params = {"MessageSid": n.provider_message_id, "MessageStatus": status,
              "AccountSid": settings.TWILIO_ACCOUNT_SID, **extra}
    return twilio_post(client, f"{STATUS_URL}?n={n.pk}", params)


def test_status_callback_moves_a_text_to_delivered(client, sent_sms):
    assert _status(client, sent_sms, "sent").status_code == 204
    assert _status(client, sent_sms, "delivered").status_code == 204
    sent_sms.refresh_from_db()
    assert sent_sms.status == Status.DELIVERED
    assert sent_sms.events.last().detail == "Twilio: delivered"


def test_forged_status_callback_is_refused(client, sent_sms):
    params = {"MessageSid": sent_sms.provider_message_id, "MessageStatus": "delivered"}
    assert twilio_post(client, f"{STATUS_URL}?n={sent_sms.pk}", params, forged=True).status_code == 403
    assert client.post(f"{STATUS_URL}?n={sent_sms.pk}", params).status_code == 403
    sent_sms.refresh_from_db()
    assert sent_sms.status == Status.SENT


def test_duplicate_callback_is_accepted_and_changes_nothing(client, sent_sms):
    _status(client, sent_sms, "delivered")
    events = sent_sms.events.count()
    assert _status(client, sent_sms, "delivered").status_code == 204
    assert sent_sms.events.count() == events


def test_callbacks_out_of_order_never_move_a_row_back(client, sent_sms):
    _status(client, sent_sms, "delivered")
    _status(client, sent_sms, "sent")
    sent_sms.refresh_from_db()
    assert sent_sms.status == Status.DELIVERED


def test_undelivered_with_a_temporary_code_is_retried(client, sent_sms):
    _status(client, sent_sms, "undelivered", ErrorCode="30003")
    sent_sms.refresh_from_db()
    assert sent_sms.status == Status.UNDELIVERABLE_RETRY
    assert sent_sms.attempt_started_at is None and "30003" in sent_sms.last_error


def test_a_retry_reported_by_the_provider_waits_no_longer_than_the_engines_backoff(
        client, sent_sms, settings):
    # The same bounded backoff as a temporary error during the send: at most an hour (plus the
    # spread), however large the base and the attempt count.
    settings.NOTIFICATIONS_RETRY_BASE_SECONDS = 3000
    Notification.objects.filter(pk=sent_sms.pk).update(attempts=3)
    before = timezone.now()
    _status(client, sent_sms, "undelivered", ErrorCode="30003")
    sent_sms.refresh_from_db()
    assert sent_sms.status == Status.UNDELIVERABLE_RETRY
    assert timedelta(hours=1) <= sent_sms.send_at - before <= timedelta(hours=1.2, seconds=5)
    assert NotificationDue.objects.get(notification=sent_sms).due_at == sent_sms.send_at


@pytest.mark.parametrize("code", ["21610", "30006", "21211"])
def test_failed_with_a_permanent_code_is_permanent(client, sent_sms, code):
    _status(client, sent_sms, "failed", ErrorCode=code)
    sent_sms.refresh_from_db()
    assert sent_sms.status == Status.UNDELIVERABLE_PERMANENT
    assert OptOut.objects.filter(address=sent_sms.address).exists() == (code == "21610")


def test_voice_call_status(client, world, schedule, fake_twilio, daytime):
    world.practice_a.addon_voice = True
    world.practice_a.save()
    n = schedule(channel="voice")
    notifications_deliver([n.pk])
    n.refresh_from_db()
    twilio_post(client, f"{STATUS_URL}?n={n.pk}",
                {"CallSid": n.provider_message_id, "CallStatus": "completed"})
    n.refresh_from_db()
    assert n.status == Status.DELIVERED


def test_callback_for_an_unknown_message_is_accepted(client, world):
    response = twilio_post(client, f"{STATUS_URL}?n=999999",
                           {"MessageSid": "SMnope", "MessageStatus": "delivered"})
    assert response.status_code == 204


# -- inbound ----------------------------------------------------------------------------------

@pytest.fixture
def practice_number(world):
    return MessagingSettings.objects.create(practice=world.practice_a,
                                            twilio_from_number="+13125550100")


def inbound(client, body, sid="SMin1", sender="+13125550111"):
    return twilio_post(client, INBOUND_URL, {"MessageSid": sid, "From": sender,
                                             "To": "+13125550100", "Body": body})


@pytest.mark.parametrize("body", ["STOP", "stop", "  Stop ", "STOPALL", "unsubscribe", "Cancel",
                                  "END", "quit", "REVOKE", "OPT OUT", "opt   out", " Opt Out\n"])
def test_every_stop_variant_opts_out_with_one_confirmation(client, practice_number, body):
    response = inbound(client, body)
    assert response.status_code == 200
    assert response.content.decode().count("<Message>") == 1
    assert "unsubscribed from Lakeside Dental" in response.content.decode()
    assert OptOut.objects.filter(practice=practice_number.practice, channel="sms",
                                 address="+13125550111", source="stop").count() == 1
    again = inbound(client, body)  # the same message delivered twice by Twilio
    assert "<Message>" not in again.content.decode()
    assert OptOut.objects.count() == 1


@pytest.mark.parametrize("body", ["START", "start", " Unstop "])
def test_start_variants_opt_back_in(client, practice_number, body):
    inbound(client, "STOP", sid="SM1")
    response = inbound(client, body, sid="SM2")
    assert "resubscribed" in response.content.decode()
    assert not OptOut.objects.exists()


@pytest.mark.parametrize("body", ["HELP", "help", "  Help  "])
def test_help_answers_with_the_practice_name_and_phone(client, practice_number, body):
    response = inbound(client, body)
    assert "Lakeside Dental. Call us at +13125550100." in response.content.decode()
    assert not OptOut.objects.exists()


def test_other_words_get_no_reply(client, practice_number):
    assert "<Message>" not in inbound(client, "stop texting me please").content.decode()
    assert not OptOut.objects.exists()


def test_forged_inbound_is_refused(client, practice_number):
    response = twilio_post(client, INBOUND_URL, {"MessageSid": "SMx", "From": "+13125550111",
                                                 "To": "+13125550100", "Body": "STOP"}, forged=True)
    assert response.status_code == 403
    assert not OptOut.objects.exists()


def test_stop_then_the_next_text_will_not_be_sent(client, practice_number, schedule, fake_twilio,
                                                  daytime):
    inbound(client, "STOP")
    n = schedule()
    dispatch.drain_inline()
    n.refresh_from_db()
    assert (n.status, n.reason_code) == (Status.WILL_NOT_SEND, "opted_out")
    assert fake_twilio.messages == []


# -- email tracking (anymail, Postmark's webhook format) --------------------------------------

def postmark_webhook(client, payload, auth="anymail-user:anymail-webhook-secret"):
    credentials = base64.b64encode(auth.encode()).decode()
    return client.post("/webhooks/anymail/postmark/tracking/", json.dumps(payload),
                       content_type="application/json", HTTP_AUTHORIZATION=f"Basic {credentials}")


@pytest.fixture
def sent_email(world, schedule, fake_postmark):
    n = schedule(channel="email", address="pat@example.test")
    notifications_deliver([n.pk])
    n.refresh_from_db()
    return n


def test_email_delivery_event(client, sent_email):
    response = postmark_webhook(client, {
        "RecordType": "Delivery", "MessageID": sent_email.provider_message_id,
        "Recipient": "pat@example.test", "DeliveredAt": "2026-06-10T15:00:05Z", "Metadata": {}})
    assert response.status_code == 200
    sent_email.refresh_from_db()
    assert sent_email.status == Status.DELIVERED


def test_hard_bounce_suppresses_the_address(client, sent_email, schedule):
    payload = {"RecordType": "Bounce", "ID": 4242, "Type": "HardBounce", "TypeCode": 1,
               "MessageID": sent_email.provider_message_id, "Email": "pat@example.test",
               "Description": "The server was unable to deliver your message",
               "BouncedAt": "2026-06-10T15:00:05Z", "Metadata": {}}
    assert postmark_webhook(client, payload).status_code == 200
    assert postmark_webhook(client, payload).status_code == 200  # duplicate
    sent_email.refresh_from_db()
    assert sent_email.status == Status.UNDELIVERABLE_PERMANENT
    assert OptOut.objects.get(channel="email", address="pat@example.test").source == "bounce"
    assert NotificationEvent.objects.filter(notification=sent_email,
                                            status=Status.UNDELIVERABLE_PERMANENT).count() == 1
    later = schedule(channel="email", address="pat@example.test")
    dispatch.drain_inline()
    later.refresh_from_db()
    assert (later.status, later.reason_code) == (Status.WILL_NOT_SEND, "opted_out")


def test_tracking_webhook_with_bad_credentials_is_refused(client, sent_email):
    response = postmark_webhook(client, {"RecordType": "Delivery",
                                         "MessageID": sent_email.provider_message_id,
                                         "Recipient": "pat@example.test",
                                         "DeliveredAt": "2026-06-10T15:00:05Z"},
                                auth="anymail-user:wrong")
    assert response.status_code == 403
    sent_email.refresh_from_db()
    assert sent_email.status == Status.SENT


def _bounce(n, *, email="pat@example.test", message_id=None, metadata=None):
    return {"RecordType": "Bounce", "ID": 4343, "Type": "HardBounce", "TypeCode": 1,
            "MessageID": n.provider_message_id if message_id is None else message_id,
            "Email": email, "BouncedAt": "2026-06-10T15:00:05Z", "Metadata": metadata or {}}


@pytest.mark.parametrize("configured", [{}, {"WEBHOOK_SECRET": ""}])
def test_tracking_webhooks_refuse_everything_when_no_credentials_are_configured(
        client, sent_email, settings, configured):
    """The embedded default and production on SMTP have no ESP secret: no event may get in."""
    settings.ANYMAIL = configured
    forged = postmark_webhook(client, _bounce(sent_email), auth="anyone:anything")
    unauthenticated = client.post("/webhooks/anymail/postmark/tracking/",
                                  json.dumps(_bounce(sent_email)), content_type="application/json")
    assert (forged.status_code, unauthenticated.status_code) == (403, 403)
    sent_email.refresh_from_db()
    assert sent_email.status == Status.SENT and not OptOut.objects.exists()


def test_an_event_naming_a_notification_only_in_its_metadata_touches_nothing(client, sent_email):
    response = postmark_webhook(client, _bounce(sent_email, message_id="someone-elses-message",
                                                metadata={"notification": str(sent_email.pk)}))
    assert response.status_code == 200
    sent_email.refresh_from_db()
    assert sent_email.status == Status.SENT and not OptOut.objects.exists()
    assert not sent_email.events.filter(detail__startswith="postmark").exists()


def test_a_bounce_opts_out_only_the_address_the_message_went_to(client, sent_email):
    postmark_webhook(client, _bounce(sent_email, email="victim@example.test"))
    assert list(OptOut.objects.values_list("address", flat=True)) == ["pat@example.test"]


def test_only_tracking_webhooks_are_routed(client, world):
    assert client.post("/webhooks/anymail/postmark/inbound/", "{}",
                       content_type="application/json").status_code == 404


# -- one-click unsubscribe --------------------------------------------------------------------

def test_one_click_unsubscribe_opts_the_address_out(client, world, schedule):
    n = schedule(channel="email", address="pat@example.test")
    url = f"/unsubscribe/{unsubscribe_token(n.pk)}/"
    assert "Unsubscribe from Lakeside Dental emails" in client.get(url).content.decode()
    response = client.post(url, {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert OptOut.objects.filter(practice=world.practice_a, channel="email",
                                 address="pat@example.test").exists()


def test_tampered_unsubscribe_link_does_nothing(client, world, schedule):
    n = schedule(channel="email", address="pat@example.test")
    response = client.post(f"/unsubscribe/{unsubscribe_token(n.pk)}x/")
    assert response.status_code == 404
    assert not OptOut.objects.exists()
    assert Notification.objects.count() == 1


def test_an_unsubscribe_link_expires_after_a_year(client, world, schedule):
    from datetime import timedelta

    import time_machine
    from django.utils import timezone

    n = schedule(channel="email", address="pat@example.test")
    url = f"/unsubscribe/{unsubscribe_token(n.pk)}/"
    with time_machine.travel(timezone.now() + timedelta(days=300)):
        assert client.get(url).status_code == 200  # still good in next year's statements
    with time_machine.travel(timezone.now() + timedelta(days=366)):
        response = client.post(url, {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 404 and "no longer works" in response.content.decode()
    assert not OptOut.objects.exists()


def test_unsubscribe_links_work_for_patient_messages_only(client, world, schedule):
    from notifications.services import Recipient

    alert = schedule(channel="email", address="staff.a@example.test",
                     recipient=Recipient(kind="user", id=world.staff_a.pk, name="Staff A"))
    response = client.post(f"/unsubscribe/{unsubscribe_token(alert.pk)}/")
    assert response.status_code == 404
    assert not OptOut.objects.exists()

