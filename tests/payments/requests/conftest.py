"""Bulk payment requests: an office with online payments on, guarantors made to pass or fail
each eligibility rule, and the day's list."""

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import time_machine

from patients.models import Balance, Patient
from payments.bulk_requests.campaigns import Selection, payment_requests_send
from payments.bulk_requests.eligibility import Terms
from payments.bulk_requests.lists import request_list_make
from payments.bulk_requests.texts import SETTINGS_FIELDS, request_templates_ensure
from payments.models import PaymentSettings

# 15:00 UTC is 09:00 or 10:00 in Chicago: inside the texting hours whatever the season.
DAYTIME = datetime(2026, 6, 10, 15, 0, tzinfo=UTC)
TODAY = date(2026, 6, 10)  # the office's date then


def make_guarantor(practice, external_id, *, first="Ana", last="Reyes", total="100.00", aging=None,
                   mobile="+13125550142", email="", consent_sms=True, consent_email=False, plan=False,
                   collections=False, claims=0, do_not_recall=False, last_visit=date(2026, 5, 1),
                   balance=True, time_zone="") -> Patient:
    """A guarantor whose balance is all `aging` ({"aging_31_60": "60.00", ...}; else all current)."""
    guarantor = Patient.objects.create(
        practice=practice, external_id=external_id, first_name=first, last_name=last, mobile_phone=mobile,
        email=email, consent_sms=consent_sms, consent_email=consent_email, do_not_recall=do_not_recall,
        last_visit_on=last_visit, time_zone=time_zone)
    guarantor.guarantor = guarantor
    guarantor.save(update_fields=["guarantor"])
    if balance:
        total = Decimal(total)
        buckets = {name: Decimal(value) for name, value in (aging or {}).items()}
        Balance.objects.create(practice=practice, guarantor=guarantor, total=total, amount_due=total,
                               aging_current=total - sum(buckets.values(), Decimal(0)), **buckets,
                               on_payment_plan=plan, in_collections=collections, outstanding_claims=claims)
    return guarantor


def settings_form(practice, **values) -> dict:
    """The bulk-request part of the payment settings form, as the page would post it."""
    chosen = request_templates_ensure(practice)
    return {"save_requests": "1", "request_minimum": "25", "request_aging": "current",
            "request_reminders": "2", "request_reminder_days": "3", "request_list_hour": "7",
            "request_hourly_cap": "250",
            **{field: getattr(chosen, f"{field}_id") for field in SETTINGS_FIELDS.values()}, **values}


def make_dependent(guarantor, external_id, first="Mia") -> Patient:
    return Patient.objects.create(practice=guarantor.practice, external_id=external_id, first_name=first,
                                  last_name=guarantor.last_name, guarantor=guarantor)


@dataclass
class Desk:
    """Office A with online payments on."""

    practice: object
    world: object

    def settings(self, **values) -> PaymentSettings:
        row, _ = PaymentSettings.objects.update_or_create(practice=self.practice, defaults=values)
        return row

    def terms(self) -> Terms:
        return Terms.of(self.practice)

    def make_list(self):
        return request_list_make(practice=self.practice)[0]

    def send(self, *, ids=None, excluded=(), actor=None):
        request_list = self.make_list()
        selection = (Selection(ids=frozenset(ids)) if ids is not None
                     else Selection(everyone=True, excluded=frozenset(excluded)))
        return payment_requests_send(practice=self.practice, actor=actor or self.world.admin_ab,
                                     request_list=request_list, selection=selection)


@pytest.fixture
def daytime():
    with time_machine.travel(DAYTIME, tick=True) as traveller:
        yield traveller


def _desk(world) -> Desk:
    practice = world.practice_a
    practice.addon_online_payments = True
    practice.phone = "+13125550100"
    practice.save(update_fields=["addon_online_payments", "phone"])
    return Desk(practice, world)


@pytest.fixture
def desk(world, daytime):
    return _desk(world)


@pytest.fixture
def live_desk(world):
    """The office at the real time: a browser keeps the real clock (session cookies expire by it)."""
    return _desk(world)
