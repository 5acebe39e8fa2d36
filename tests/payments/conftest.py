import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from patients.models import Balance, Patient
from payments.models import PaymentSettings
from payments.quickpay import LinkRequest, quickpay_links_mint

from . import hooks
from .fake_stripe import FakeStripe, sign

ACCOUNT = "acct_1LakesideDental01"


def make_guarantor(practice, external_id="G-1", first="Ana", last="Reyes", *, total="250.00",
                   due="100.00", over_120="150.00", in_collections=False, dob=date(1984, 9, 30),
                   email="ana.reyes@example.test"):
    guarantor = Patient.objects.create(practice=practice, external_id=external_id, first_name=first,
                                       last_name=last, date_of_birth=dob, email=email, consent_email=True)
    guarantor.guarantor = guarantor
    guarantor.save(update_fields=["guarantor"])
    if total is not None:
        total = Decimal(total)
        Balance.objects.create(practice=practice, guarantor=guarantor, total=total, amount_due=Decimal(due),
                               aging_over_120=Decimal(over_120), aging_current=total - Decimal(over_120),
                               in_collections=in_collections)
    return guarantor


@dataclass
class Office:
    practice: object
    guarantor: Patient
    counter: int = 0

    def link(self, guarantor=None, **kw) -> str:
        """Mint a link and return its token."""
        self.counter += 1
        args = {"guarantor_id": (guarantor or self.guarantor).pk, "notification_key": f"test:{self.counter}",
                "source": "statement", "channel": "sms", "dunning_level": 1, **kw}
        [url] = quickpay_links_mint(practice=self.practice, items=[LinkRequest(**args)])
        return url.rsplit("/", 1)[1]


@pytest.fixture
def office(world):
    """Practice A with online payments on and a guarantor owing $250.00 ($100.00 due)."""
    practice = world.practice_a
    practice.addon_online_payments = True
    practice.save(update_fields=["addon_online_payments"])
    return Office(practice, make_guarantor(practice))


@pytest.fixture
def hook_calls(settings):
    hooks.CALLS.clear()
    settings.BALANCE_CHANGED_HOOKS = ["tests.payments.hooks.record", "tests.payments.hooks.stop_dunning"]
    yield hooks.CALLS
    hooks.CALLS.clear()


@pytest.fixture
def fake_stripe(settings, office):
    fake = FakeStripe().start()
    settings.PAYMENTS_GATEWAY = "stripe"
    settings.STRIPE_API_BASE = fake.url
    PaymentSettings.objects.update_or_create(practice=office.practice,
                                             defaults={"stripe_account_id": ACCOUNT})
    yield fake
    fake.stop()


@pytest.fixture
def post_event(client, settings):
    """Post an event to the webhook, signed with the configured secret (or as told)."""

    def post(event, *, secret=None, timestamp=None, signature=None):
        payload = json.dumps(event)
        header = signature if signature is not None else sign(
            payload, secret or settings.STRIPE_WEBHOOK_SECRET, timestamp)
        return client.post(reverse("stripe_webhook"), payload, content_type="application/json",
                           headers={"Stripe-Signature": header} if header else {})

    return post


def pay_form(page_response, **values):
    """The QuickPay form's fields as the page rendered them, with the payer's choices."""
    attempt = page_response.context["form"]["attempt"].value()
    return {"attempt": attempt, "choice": "due", "other_amount": "", "payer_email": "", **values}
