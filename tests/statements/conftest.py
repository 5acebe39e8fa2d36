"""Statements fixtures: an office with the add-on and its Standard profile, and guarantors."""

from decimal import Decimal
from itertools import count

import pytest

from patients.models import Balance, Patient
from practices.services import api_key_create
from statements.models import BatchSource
from statements.profiles import standard_profile_create
from statements.services import statement_batch_receive

_ids = count(1)


@pytest.fixture
def office(world):
    """Office A with balance notifications and voice on, and its approved Standard profile."""
    practice = world.practice_a
    practice.addon_balance_notifications = True
    practice.addon_voice = True
    practice.address = "200 W Madison St\nChicago, IL 60606"
    practice.save()
    standard_profile_create(practice)
    return practice


@pytest.fixture(params=["arrays", "generic"])
def write_path(request, settings):
    """Run a test through both set-based paths: PostgreSQL arrays, and the generic statements
    the embedded SQLite takes."""
    settings.OUTBOX_GENERIC_SQL = request.param == "generic"
    return request.param


def make_guarantor(practice, external_id=None, *, first_name="Ana", last_name="Reyes",
                   email="ana@example.test", mobile="+13125550142", home="", time_zone="",
                   consent_email=True, consent_sms=True, consent_voice=False, balance=None):
    patient = Patient.objects.create(
        practice=practice, external_id=external_id or f"G-{next(_ids)}", first_name=first_name,
        last_name=last_name, email=email, mobile_phone=mobile, home_phone=home, time_zone=time_zone,
        consent_email=consent_email, consent_sms=consent_sms, consent_voice=consent_voice)
    Patient.objects.filter(pk=patient.pk).update(guarantor=patient)
    patient.guarantor_id = patient.pk
    if balance is not None:
        Balance.objects.create(practice=practice, guarantor=patient, total=Decimal(balance),
                               amount_due=Decimal(balance))
    return patient


def item(guarantor, statement_date="2026-11-02", due_date="2026-11-25", amount_due="125.00",
         balance="250.00", **extra):
    external_id = guarantor.external_id if hasattr(guarantor, "external_id") else guarantor
    return {"guarantor_external_id": external_id, "statement_date": statement_date,
            "due_date": due_date, "amount_due": amount_due, "balance": balance, **extra}


def receive(practice, batch_id, items, profile=None, source=BatchSource.API):
    return statement_batch_receive(practice=practice, batch_id=batch_id, profile_slug=profile,
                                   items=enumerate(items), source=source)


@pytest.fixture
def api_key(office):
    return api_key_create(practice=office, label="PMS")[1]
