"""Reads for patients, always for one practice, and the tenancy helpers (404 for another's)."""

import re
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404

from .models import IS_GUARANTOR, Patient, PatientImport, Visit
from .records import UNSAFE_TEXT, FieldInvalid, clean_phone

PAGE_SIZE = 50


def patient_get(*, practice, pk) -> Patient:
    return get_object_or_404(Patient.objects.select_related("guarantor", "guarantor__balance"),
                             practice=practice, pk=pk)


def guarantor_get(*, practice, pk) -> Patient:
    """A patient who is their own guarantor; 404 for anyone else."""
    return get_object_or_404(Patient.objects.select_related("balance").filter(IS_GUARANTOR),
                             practice=practice, pk=pk)


def patient_get_by_external_id(*, practice, external_id: str) -> Patient | None:
    # No stored id is longer or holds a control character (the record checks refuse them), and
    # PostgreSQL refuses NUL in a query: such an id names no one.
    if len(external_id) > 64 or UNSAFE_TEXT.search(external_id):
        return None
    return (Patient.objects.select_related("guarantor", "balance")
            .filter(practice=practice, external_id=external_id).first())


def guarantor_dependents(*, guarantor: Patient) -> QuerySet[Patient]:
    """Everyone on the guarantor's account, the guarantor first."""
    return (Patient.objects.filter(practice_id=guarantor.practice_id, guarantor=guarantor)
            .order_by("last_name", "first_name", "id"))


def patient_visits(*, patient: Patient, limit: int = 10) -> QuerySet[Visit]:
    return (Visit.objects.filter(practice_id=patient.practice_id, patient=patient)
            .order_by("-visited_on")[:limit])


AGING_FILTERS = {
    "d31_60": "balance__aging_31_60", "d61_90": "balance__aging_61_90",
    "d91_120": "balance__aging_91_120", "over_120": "balance__aging_over_120",
}
FLAG_FILTERS = {
    "no_contact": Q(email="", mobile_phone="", home_phone=""),
    "opted_out": Q(consent_email=False, consent_sms=False, consent_voice=False),
    "do_not_recall": Q(do_not_recall=True),
    "paperless": Q(paperless=True),
    "in_collections": Q(balance__in_collections=True),
    "payment_plan": Q(balance__on_payment_plan=True),
}


@dataclass
class PatientFilters:
    q: str = ""
    balance_min: Decimal | None = None
    balance_max: Decimal | None = None
    aging: str = ""  # a key of AGING_FILTERS: a balance in that bucket or older
    guarantors_only: bool = False
    flag: str = ""  # a key of FLAG_FILTERS


def _search(q: str) -> Q:
    """Name (each word starts a first or last name), external id, email or phone."""
    q = q.strip()
    condition = Q(external_id=q)
    if "@" in q:
        return condition | Q(email=q.lower())
    digits = re.sub(r"\D", "", q)
    if len(digits) >= 7 and not re.search(r"[A-Za-z]", q):
        try:
            phone = clean_phone(q)
        except FieldInvalid:
            phone = "+" + digits if q.startswith("+") else ""
        if phone:
            condition |= Q(mobile_phone=phone) | Q(home_phone=phone)
        return condition
    words = q.split()[:4]
    names = Q()
    for word in words:
        names &= Q(last_name__istartswith=word) | Q(first_name__istartswith=word)
    return condition | names


def patient_search(*, practice, filters: PatientFilters) -> QuerySet[Patient]:
    qs = Patient.objects.filter(practice=practice)
    if filters.q.strip():
        qs = qs.filter(_search(filters.q))
    if filters.guarantors_only:
        qs = qs.filter(IS_GUARANTOR)
    if filters.balance_min is not None:
        qs = qs.filter(balance__total__gte=filters.balance_min)
    if filters.balance_max is not None:
        qs = qs.filter(balance__total__lte=filters.balance_max)
    if filters.aging in AGING_FILTERS:
        # A balance in this bucket or any older one.
        older = list(AGING_FILTERS)[list(AGING_FILTERS).index(filters.aging):]
        bucket = Q()
        for key in older:
            bucket |= Q(**{f"{AGING_FILTERS[key]}__gt": 0})
        qs = qs.filter(bucket)
    if filters.flag in FLAG_FILTERS:
        qs = qs.filter(FLAG_FILTERS[filters.flag])
    return qs


def patient_page(*, practice, filters: PatientFilters, after: int | None = None,
                 size: int | None = None) -> tuple[list[Patient], int | None]:
    """One page in name order, keyset-paginated: `after` is the id of the last row shown.

    The cursor is an id, not a name, so no patient detail ends up in a URL; the name of that
    row is looked up (one indexed query) to continue the (last_name, first_name, id) order.
    """
    size = size or PAGE_SIZE
    qs = patient_search(practice=practice, filters=filters)
    if after:
        last = Patient.objects.filter(practice=practice, pk=after).values("last_name", "first_name").first()
        if last:
            qs = qs.filter(Q(last_name__gt=last["last_name"])
                           | Q(last_name=last["last_name"], first_name__gt=last["first_name"])
                           | Q(last_name=last["last_name"], first_name=last["first_name"], pk__gt=after))
    qs = qs.select_related("balance", "guarantor").order_by("last_name", "first_name", "id")
    rows = list(qs[:size + 1])
    next_after = rows[size - 1].pk if len(rows) > size else None
    return rows[:size], next_after


def patient_imports(*, practice) -> QuerySet[PatientImport]:
    return PatientImport.objects.filter(practice=practice).defer("errors", "rejected_rows", "preview")


def patient_import_get(*, practice, pk) -> PatientImport:
    return get_object_or_404(PatientImport, practice=practice, pk=pk)


def account_balance(*, patient: Patient):
    """The balance of the patient's account (their guarantor's), or None when none is known."""
    guarantor = patient if patient.is_guarantor else patient.guarantor
    if guarantor is None:
        return None
    try:
        return guarantor.balance
    except Patient.balance.RelatedObjectDoesNotExist:
        return None
