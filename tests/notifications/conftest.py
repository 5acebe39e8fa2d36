from datetime import UTC, datetime

import pytest
import time_machine

from notifications.models import MessagingSettings
from notifications.services import Recipient, notification_schedule

from .fake_providers import FakePostmark, FakeTwilio, SmtpSink

# 15:00 UTC is 09:00 or 10:00 in Chicago: inside the SMS window whatever the season.
DAYTIME = datetime(2026, 6, 10, 15, 0, tzinfo=UTC)
PATIENT = Recipient(kind="patient", id=41, name="Pat Doe")


@pytest.fixture
def daytime():
    with time_machine.travel(DAYTIME, tick=True) as traveller:
        yield traveller


@pytest.fixture
def fake_twilio(settings):
    fake = FakeTwilio().start()
    settings.MESSAGING_SANDBOX = False
    settings.TWILIO_API_BASE_URL = fake.url
    settings.TWILIO_TIMEOUT = 3
    settings.NOTIFICATIONS_RATES = {"sms": 1000.0, "voice": 1000.0, "email": 1000.0}
    yield fake
    fake.stop()


@pytest.fixture
def fake_postmark(settings):
    fake = FakePostmark().start()
    settings.MAILERS = {"default": {"BACKEND": "anymail.backends.postmark.EmailBackend"}}
    settings.ANYMAIL = {**settings.ANYMAIL, "POSTMARK_SERVER_TOKEN": "fake-token",
                        "POSTMARK_API_URL": fake.url}
    yield fake
    fake.stop()


@pytest.fixture
def smtp_sink(settings):
    sink = SmtpSink().start()
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                                    "OPTIONS": {"host": "127.0.0.1", "port": sink.port,
                                                "use_tls": False, "timeout": 5}}}
    yield sink
    sink.stop()


@pytest.fixture
def messaging(world):
    return MessagingSettings.objects.create(practice=world.practice_a,
                                            twilio_messaging_service_sid="MG" + "a" * 32,
                                            twilio_from_number="+13125550100")


@pytest.fixture
def schedule(world):
    counter = iter(range(1, 10**6))

    def make(practice=None, **kw):
        args = {"practice": practice or world.practice_a, "recipient": PATIENT, "channel": "sms",
                "address": "+13125550111", "kind": "balance_dunning", "subject": "Your balance",
                "body": "Lakeside Dental: you have a balance. Pay at https://x.test/q/1",
                "idempotency_key": f"key-{next(counter)}"}
        args.update(kw)
        return notification_schedule(**args)

    return make
