"""Demo patients for the two demo offices: families with guarantors, balances, visits.

Deterministic (seeded by the office's slug) and written in bulk through the same upsert as the
API. An office that already has patients is left alone, so `seed_demo` at every start is quick.
"""

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.db import transaction

from practices.demo import DemoResult
from practices.models import Practice

from .models import Patient, Visit
from .records import BalanceRecord, PatientRecord
from .upsert import patients_upsert

OFFICES = {"bright-smiles-downtown": 1200, "bright-smiles-northside": 800}
FIRST = ["Olivia", "Liam", "Emma", "Noah", "Ava", "Elijah", "Sofia", "Mateo", "Mia", "Lucas", "Amelia",
         "Ethan", "Harper", "Aiden", "Layla", "James", "Zoe", "Omar", "Priya", "Wei", "Fatima", "Diego",
         "Grace", "Malik", "Hannah", "Jonah", "Nadia", "Caleb", "Rosa", "Theo", "Aisha", "Felix"]
LAST = ["Johnson", "Garcia", "Nguyen", "Patel", "Kowalski", "Okafor", "Rivera", "Chen", "Murphy", "Haddad",
        "Lindqvist", "Romero", "Washington", "Kim", "Novak", "Alvarez", "Brennan", "Sato", "Mensah",
        "Dubois", "Ortiz", "Schmidt", "Ahmed", "Park", "Russo", "Coleman", "Fischer", "Reyes", "Bianchi"]
TODAY = date(2026, 11, 1)


def _phone(rng: random.Random, npa: str) -> str:
    return f"+1{npa}555{rng.randint(100, 199):04d}"  # 555-0100..0199: reserved for fiction


def _balance(rng: random.Random, family: int) -> BalanceRecord | None:
    if rng.random() < 0.25:
        return None
    buckets = [Decimal("0.00")] * 5
    oldest = rng.choices(range(5), weights=[40, 25, 15, 10, 10])[0]
    for i in range(oldest + 1):
        if i == oldest or rng.random() < 0.5:
            buckets[i] = Decimal(rng.randint(2500, 90000)) / 100
    total = sum(buckets, Decimal("0.00"))
    return BalanceRecord(
        total=total, amount_due=total - buckets[0], aging_current=buckets[0], aging_31_60=buckets[1],
        aging_61_90=buckets[2], aging_91_120=buckets[3], aging_over_120=buckets[4],
        in_collections=False, on_payment_plan=rng.random() < 0.08,
        outstanding_claims=rng.choice([0, 0, 0, 1, 2]),
        as_of=datetime(2026, 11, 1, 6, 0, tzinfo=UTC))


def demo_records(slug: str, count: int) -> list[PatientRecord]:
    rng = random.Random(slug)
    npa = "312" if slug.endswith("downtown") else "773"
    records: list[PatientRecord] = []
    family = 0
    collections = 0
    while len(records) < count:
        family += 1
        last = rng.choice(LAST)
        guarantor_id = f"{slug[:2].upper()}{family:05d}-1"
        size = rng.choices([1, 2, 3, 4, 5], weights=[30, 25, 25, 15, 5])[0]
        for i in range(min(size, count - len(records))):
            is_guarantor = i == 0
            first = rng.choice(FIRST)
            no_contact = rng.random() < 0.08
            opted_out = rng.random() < 0.1
            email = "" if no_contact or rng.random() < 0.15 else f"{first}.{last}{family}@example.com".lower()
            mobile = "" if no_contact or rng.random() < 0.2 else _phone(rng, npa)
            balance = _balance(rng, family) if is_guarantor else None
            if balance and balance.aging_over_120 and collections < 2:
                balance.in_collections = True
                collections += 1
            age = rng.randint(28, 82) if is_guarantor else rng.randint(2, 22)
            records.append(PatientRecord(
                external_id=f"{slug[:2].upper()}{family:05d}-{i + 1}", first_name=first, last_name=last,
                date_of_birth=TODAY - timedelta(days=age * 365 + rng.randint(0, 364)),
                email=email, mobile_phone=mobile,
                home_phone="" if no_contact or rng.random() < 0.7 else _phone(rng, npa),
                time_zone="" if rng.random() < 0.9 else "America/Denver",
                guarantor_external_id=guarantor_id,
                consent_email=bool(email) and not opted_out, consent_sms=bool(mobile) and not opted_out,
                consent_voice=not opted_out and rng.random() < 0.4, paperless=rng.random() < 0.35,
                do_not_recall=rng.random() < 0.04,
                last_visit_on=TODAY - timedelta(days=rng.randint(3, 700)) if rng.random() < 0.95 else None,
                balance=balance))
    return records


@transaction.atomic
def demo_seed() -> DemoResult:
    practices = list(Practice.objects.filter(slug__in=OFFICES).order_by("slug"))
    created = False
    for practice in practices:
        if Patient.objects.filter(practice=practice).exists():
            continue
        records = demo_records(practice.slug, OFFICES[practice.slug])
        patients_upsert(practice=practice, records=records)
        # Earlier visits, so a patient's visit history has more than the last one.
        rng = random.Random(practice.slug + "-visits")
        ids = dict(Patient.objects.filter(practice=practice).values_list("external_id", "pk"))
        Visit.objects.bulk_create(
            [Visit(practice=practice, patient_id=ids[r.external_id],
                   visited_on=r.last_visit_on - timedelta(days=rng.randint(120, 200) * n))
             for r in records if r.last_visit_on for n in range(1, rng.randint(1, 4))],
            batch_size=1000, ignore_conflicts=True)
        created = True
    total = Patient.objects.filter(practice__in=practices).count()
    families = Patient.objects.filter(practice__in=practices, guarantor_id__isnull=False).values(
        "guarantor_id").distinct().count()
    return DemoResult(practices=practices, created=created,
                      summary=f"Patients: {total:,} in {families:,} families across the demo offices.")
