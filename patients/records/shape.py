"""The patient record both doors (API and CSV) produce, and the error that names a field."""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal


@dataclass(slots=True)
class RecordError:
    field: str
    message: str


@dataclass(slots=True)
class BalanceRecord:
    total: Decimal
    amount_due: Decimal
    aging_current: Decimal
    aging_31_60: Decimal
    aging_61_90: Decimal
    aging_91_120: Decimal
    aging_over_120: Decimal
    in_collections: bool
    on_payment_plan: bool
    outstanding_claims: int
    as_of: datetime | None


@dataclass(slots=True)
class PatientRecord:
    external_id: str
    first_name: str
    last_name: str
    date_of_birth: date | None
    email: str
    mobile_phone: str
    home_phone: str
    time_zone: str
    guarantor_external_id: str  # equal to external_id for a guarantor
    consent_email: bool
    consent_sms: bool
    consent_voice: bool
    paperless: bool
    do_not_recall: bool
    last_visit_on: date | None
    balance: BalanceRecord | None

    @property
    def is_guarantor(self) -> bool:
        return self.guarantor_external_id == self.external_id



# The record's own fields (all but the balance), by their stored names.
RECORD_FIELDS = ("external_id", "first_name", "last_name", "date_of_birth", "email", "mobile_phone",
                 "home_phone", "time_zone", "guarantor_external_id", "consent_email", "consent_sms",
                 "consent_voice", "paperless", "do_not_recall", "last_visit_on")
