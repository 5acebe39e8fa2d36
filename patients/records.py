"""The patient record the PMS sends (API and CSV), and its validation.

Both doors turn their input into the same `PatientRecord`, normalised the way it is stored
(E.164 phones, lower-cased email), so that comparing a record with the stored row in SQL tells
"updated" from "unchanged". Validation is per record: each problem is a `RecordError` naming the
field as the caller spelled it (`balance.aging.d31_60` in JSON, `aging_31_60` in a CSV file).
"""

import gc
import re
import time
import zoneinfo
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from operator import itemgetter

import phonenumbers

DEFAULT_PHONE_REGION = "US"
MAX_AMOUNT = Decimal("9999999999.99")
MIN_BIRTH_DATE = date(1900, 1, 1)

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_EMAIL = re.compile(rf"^[^@\s,;<>\"']+@{_LABEL}(?:\.{_LABEL})*\.[A-Za-z]{{2,63}}$")
# North American numbers written the usual ways: +1 312 555 0142, (312) 555-0142, 312.555.0142.
_NANP = re.compile(r"^\s*(?:\+?1[\s.-]?)?\(?([2-9]\d{2})\)?[\s.-]?([2-9]\d{2})[\s.-]?(\d{4})\s*$")
# An amount written the usual way (two decimals, in range): Decimal(text) is already the stored value.
_AMOUNT = re.compile(r"-?\d{1,10}\.\d\d")
_TRUE = {"true", "yes", "y", "1", "t", "x"}
_FALSE = {"false", "no", "n", "0", "f", ""}


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


class FieldInvalid(ValueError):
    pass


_today_cache = [0.0, date.min]


def _today() -> date:
    # date.today() costs a system call; a value a minute old is as good for "not in the future".
    now = time.monotonic()
    if now - _today_cache[0] > 60:
        _today_cache[:] = [now, date.today()]
    return _today_cache[1]


@contextmanager
def collector_paused():
    """No cyclic garbage collection while a batch of records is read and checked.

    A batch is tens of thousands of small containers (the parsed body, rows, records) and none
    of them forms a cycle, yet each pass of the collector walks all of them: paused, checking a
    batch costs about a quarter less (measured). Reference counting still frees everything; the
    collector resumes afterwards (unless something else had paused it).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# --- field cleaners: each returns the stored value or raises FieldInvalid(message) ---

def clean_text(value, *, max_length: int, required: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise FieldInvalid("must be text")
    value = value.strip()
    if required and not value:
        raise FieldInvalid("is required")
    if len(value) > max_length:
        raise FieldInvalid(f"is longer than {max_length} characters")
    return value


def clean_email(value) -> str:
    value = clean_text(value, max_length=254).lower()
    if value and not _EMAIL.match(value):
        raise FieldInvalid(f"{value!r} is not an email address")
    return value


@lru_cache(maxsize=65536)
def _nanp_prefix_valid(prefix: str) -> bool:
    # phonenumbers decides North American validity by area code and exchange, so one parse per
    # NPA-NXX prefix answers for every number in it (the full parse costs ~40 µs a number).
    return phonenumbers.is_valid_number(phonenumbers.parse(f"+1{prefix}0100"))


@lru_cache(maxsize=65536)
def _phone_slow(value: str) -> str:
    try:
        parsed = phonenumbers.parse(value, DEFAULT_PHONE_REGION)
    except phonenumbers.NumberParseException:
        raise FieldInvalid(f"{value!r} is not a phone number") from None
    if not phonenumbers.is_valid_number(parsed):
        raise FieldInvalid(f"{value!r} is not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def clean_phone(value) -> str:
    """A phone number in E.164 (+13125550142), or "" when none is given."""
    value = clean_text(value, max_length=40)
    if not value:
        return ""
    match = _NANP.match(value)
    if match:
        npa, nxx, line = match.groups()
        if not _nanp_prefix_valid(npa + nxx):
            raise FieldInvalid(f"{value!r} is not a valid phone number")
        return f"+1{npa}{nxx}{line}"
    return _phone_slow(value)


def clean_date(value, *, not_after_today: bool = True, earliest: date | None = None) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            if len(text) != 10:
                raise ValueError
            parsed = date.fromisoformat(text)
        except ValueError:
            raise FieldInvalid(f"{text!r} is not a date (YYYY-MM-DD)") from None
    else:
        raise FieldInvalid("must be a date as text (YYYY-MM-DD)")
    if not_after_today and parsed > _today():
        raise FieldInvalid(f"{text} is in the future")
    if earliest and parsed < earliest:
        raise FieldInvalid(f"{text} is before {earliest.isoformat()}")
    return parsed


def clean_datetime(value) -> datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise FieldInvalid("must be a date and time as text (ISO 8601)")
    return _datetime_text(value)


@lru_cache(maxsize=4096)
def _datetime_text(value: str) -> datetime | None:
    # A batch's balances usually share one as-of time: parse each distinct text once.
    text = value.strip()
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise FieldInvalid(f"{text!r} is not a date and time (ISO 8601, e.g. 2026-03-01T08:00:00Z)") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def clean_bool(value) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
    raise FieldInvalid(f"{value!r} is not true or false")


def clean_amount(value) -> Decimal:
    if type(value) is str and _AMOUNT.fullmatch(value):
        return Decimal(value)
    if value is None or value == "":
        return Decimal("0.00")
    if isinstance(value, (bool, float)):
        raise FieldInvalid("send amounts as decimal strings, e.g. \"125.40\"")
    try:
        amount = Decimal(value.strip() if isinstance(value, str) else value)
    except (InvalidOperation, TypeError, ValueError):
        raise FieldInvalid(f"{value!r} is not an amount (e.g. 125.40)") from None
    if not amount.is_finite():
        raise FieldInvalid(f"{value!r} is not an amount (e.g. 125.40)")
    if amount.as_tuple().exponent < -2:
        raise FieldInvalid(f"{value!r} has more than two decimal places")
    if abs(amount) > MAX_AMOUNT:
        raise FieldInvalid(f"{value!r} is too large")
    return amount.quantize(Decimal("0.01"))


def clean_count(value) -> int:
    if value is None or value == "":
        return 0
    if isinstance(value, bool):
        raise FieldInvalid("must be a whole number")
    try:
        number = int(value.strip()) if isinstance(value, str) else value
    except ValueError:
        raise FieldInvalid(f"{value!r} is not a whole number") from None
    if not isinstance(number, int) or number < 0:
        raise FieldInvalid(f"{value!r} is not a whole number of zero or more")
    return number


@lru_cache(maxsize=1)
def _time_zones() -> frozenset:
    return frozenset(zoneinfo.available_timezones())


def clean_time_zone(value) -> str:
    value = clean_text(value, max_length=64)
    if value and value not in _time_zones():
        raise FieldInvalid(f"{value!r} is not a time zone (e.g. America/Chicago)")
    return value


class _Collector:
    """Runs cleaners and collects their errors under the caller's field names."""

    __slots__ = ("errors",)

    def __init__(self):
        self.errors: list[RecordError] = []

    def __call__(self, field: str, cleaner, value, **kwargs):
        try:
            return cleaner(value, **kwargs)
        except FieldInvalid as exc:
            self.errors.append(RecordError(field, str(exc)))
            return None


def _build(c: _Collector, fields: dict, names: dict, balance: BalanceRecord | None,
           balance_field: str) -> tuple[PatientRecord | None, list[RecordError]]:
    external_id = c(names["external_id"], clean_text, fields["external_id"], max_length=64, required=True)
    guarantor = c(names["guarantor_external_id"], clean_text, fields["guarantor_external_id"], max_length=64)
    record = PatientRecord(
        external_id=external_id,
        first_name=c(names["first_name"], clean_text, fields["first_name"], max_length=100, required=True),
        last_name=c(names["last_name"], clean_text, fields["last_name"], max_length=100, required=True),
        date_of_birth=c(names["date_of_birth"], clean_date, fields["date_of_birth"], earliest=MIN_BIRTH_DATE),
        email=c(names["email"], clean_email, fields["email"]),
        mobile_phone=c(names["mobile_phone"], clean_phone, fields["mobile_phone"]),
        home_phone=c(names["home_phone"], clean_phone, fields["home_phone"]),
        time_zone=c(names["time_zone"], clean_time_zone, fields["time_zone"]),
        guarantor_external_id=guarantor or external_id,
        consent_email=c(names["consent_email"], clean_bool, fields["consent_email"]),
        consent_sms=c(names["consent_sms"], clean_bool, fields["consent_sms"]),
        consent_voice=c(names["consent_voice"], clean_bool, fields["consent_voice"]),
        paperless=c(names["paperless"], clean_bool, fields["paperless"]),
        do_not_recall=c(names["do_not_recall"], clean_bool, fields["do_not_recall"]),
        last_visit_on=c(names["last_visit_on"], clean_date, fields["last_visit_on"]),
        balance=balance,
    )
    if balance is not None and external_id and guarantor and guarantor != external_id:
        c.errors.append(RecordError(balance_field, "only a guarantor (their own guarantor) has a balance"))
    if c.errors:
        return None, c.errors
    return record, []


# --- fast paths: the same rules for the usual record, no error collecting ---

class _NotSimple(Exception):
    """The fast path met something it leaves to the full check."""


_BOOLS = {**dict.fromkeys(_TRUE, True), **dict.fromkeys(_FALSE, False)}


def _text(value: str, max_length: int, required: bool) -> str:
    value = value.strip()
    if (required and not value) or len(value) > max_length:
        raise _NotSimple
    return value


def _date(value: str, earliest: date | None = None) -> date | None:
    value = value.strip()
    if not value:
        return None
    if len(value) != 10:
        raise _NotSimple
    parsed = date.fromisoformat(value)  # ValueError: left to the full check
    if parsed > _today() or (earliest and parsed < earliest):
        raise _NotSimple
    return parsed


# --- shared by the quick paths ---

# Every spelling _BOOLS reads, in the cases a spreadsheet writes; others go to the full check.
_BOOL_SPELLINGS = {spelling: value for word, value in _BOOLS.items()
                   for spelling in (word, word.upper(), word.title())}
# ASCII digits only ([0-9], not \d), no leading zeros: these values go to PostgreSQL as they are
# written, the same text as the full check's stored value.
_E164_NANP = re.compile(r"\+1[2-9][0-9][0-9][2-9][0-9]{6}")
_DIGITS = re.compile(r"0|[1-9][0-9]{0,8}")
_ISO_DAY = re.compile(r"[0-9]{4}-[0-9][0-9]-[0-9][0-9]")
_ASCII_AMOUNT = re.compile(r"-?(?:0|[1-9][0-9]{0,9})\.[0-9][0-9]")
_MIN_BIRTH_TEXT = MIN_BIRTH_DATE.isoformat()
ZERO_TEXT = "0.00"


def _fast_phone(value: str) -> str:
    if not value:
        return ""
    # Already E.164: only the NPA-NXX prefix needs phonenumbers' verdict (see _nanp_prefix_valid).
    if _E164_NANP.fullmatch(value) and _nanp_prefix_valid(value[2:8]):
        return value
    return clean_phone(value)


# --- JSON (the API) ---

_JSON_NAMES = {name: name for name in (
    "external_id", "first_name", "last_name", "date_of_birth", "email", "mobile_phone", "home_phone",
    "time_zone", "guarantor_external_id", "do_not_recall", "last_visit_on")}
_JSON_NAMES.update({"consent_email": "consents.email", "consent_sms": "consents.sms",
                    "consent_voice": "consents.voice", "paperless": "consents.paperless"})
JSON_FIELDS = {"external_id", "first_name", "last_name", "date_of_birth", "email", "mobile_phone",
               "home_phone", "time_zone", "guarantor_external_id", "consents", "do_not_recall",
               "last_visit_on", "balance"}
_AGING_KEYS = {"current": "aging_current", "d31_60": "aging_31_60", "d61_90": "aging_61_90",
               "d91_120": "aging_91_120", "over_120": "aging_over_120"}
_BALANCE_KEYS = {"total", "amount_due", "aging", "in_collections", "on_payment_plan",
                 "outstanding_claims", "as_of"}




def _jbool(value) -> bool:
    if value is None:
        return False
    if type(value) is not bool:
        raise _NotSimple
    return value


def _json_str(value) -> str:
    if value is None:
        return ""
    if type(value) is not str:
        raise _NotSimple
    return value


def _json_day(value, earliest: str, latest: str) -> date | None:
    if value is None or value == "":
        return None
    # YYYY-MM-DD compares as text as it does as a date; anything else: the full check.
    if type(value) is not str or not _ISO_DAY.fullmatch(value) or value > latest or value < earliest:
        raise _NotSimple
    return date.fromisoformat(value)


def _json_fast(data) -> PatientRecord:
    """The usual JSON record, with the same rules as the full check (see _csv_fast), written
    out with few calls: this runs for every record of every request."""
    if type(data) is not dict or not data.keys() <= JSON_FIELDS:
        raise _NotSimple
    get = data.get
    external_id = _json_str(get("external_id")).strip()
    first = _json_str(get("first_name")).strip()
    last = _json_str(get("last_name")).strip()
    guarantor = _json_str(get("guarantor_external_id")).strip() or external_id
    if (not external_id or not first or not last or len(external_id) > 64 or len(guarantor) > 64
            or len(first) > 100 or len(last) > 100):
        raise _NotSimple
    email = _json_str(get("email"))
    if email:
        if len(email) > 254:
            raise _NotSimple
        email = email.lower()
        if not _EMAIL.fullmatch(email):
            raise _NotSimple
    time_zone = _json_str(get("time_zone"))
    if time_zone and time_zone not in _time_zones():
        raise _NotSimple
    consents = get("consents") or {}
    if type(consents) is not dict:
        raise _NotSimple
    cget = consents.get
    flags = (cget("email"), cget("sms"), cget("voice"), cget("paperless"), get("do_not_recall"))
    for flag in flags:
        if flag is not None and type(flag) is not bool:
            raise _NotSimple
    balance = None
    raw = get("balance")
    if raw is not None:
        if type(raw) is not dict or not raw.keys() <= _BALANCE_KEYS or "total" not in raw:
            raise _NotSimple
        if guarantor != external_id:
            raise _NotSimple
        aging = raw.get("aging") or {}
        if type(aging) is not dict or not aging.keys() <= _AGING_KEYS.keys():
            raise _NotSimple
        balance = BalanceRecord(
            total=clean_amount(raw.get("total")), amount_due=clean_amount(raw.get("amount_due")),
            aging_current=clean_amount(aging.get("current")), aging_31_60=clean_amount(aging.get("d31_60")),
            aging_61_90=clean_amount(aging.get("d61_90")), aging_91_120=clean_amount(aging.get("d91_120")),
            aging_over_120=clean_amount(aging.get("over_120")),
            in_collections=_jbool(raw.get("in_collections")),
            on_payment_plan=_jbool(raw.get("on_payment_plan")),
            outstanding_claims=clean_count(raw.get("outstanding_claims")),
            as_of=clean_datetime(raw.get("as_of")))
    today = _today().isoformat()
    return PatientRecord(
        external_id=external_id, first_name=first, last_name=last,
        date_of_birth=_json_day(get("date_of_birth"), _MIN_BIRTH_TEXT, today),
        email=email, mobile_phone=_fast_phone(_json_str(get("mobile_phone"))),
        home_phone=_fast_phone(_json_str(get("home_phone"))), time_zone=time_zone,
        guarantor_external_id=guarantor,
        consent_email=flags[0] is True, consent_sms=flags[1] is True, consent_voice=flags[2] is True,
        paperless=flags[3] is True, do_not_recall=flags[4] is True,
        last_visit_on=_json_day(get("last_visit_on"), "", today),
        balance=balance,
    )


def record_from_json(data) -> tuple[PatientRecord | None, list[RecordError]]:
    try:
        return _json_fast(data), []
    except (_NotSimple, FieldInvalid, KeyError, ValueError):
        return record_from_json_checked(data)


def record_from_json_checked(data) -> tuple[PatientRecord | None, list[RecordError]]:
    """The full check of a JSON record: every problem, by field."""
    if not isinstance(data, dict):
        return None, [RecordError("", "a record must be a JSON object")]
    c = _Collector()
    for key in data.keys() - JSON_FIELDS:
        c.errors.append(RecordError(str(key), "is not a field of a patient record"))
    consents = data.get("consents") or {}
    if not isinstance(consents, dict):
        c.errors.append(RecordError("consents", "must be an object {email, sms, voice, paperless}"))
        consents = {}
    fields = {key: data.get(key) for key in _JSON_NAMES if key not in
              ("consent_email", "consent_sms", "consent_voice", "paperless")}
    fields.update(consent_email=consents.get("email"), consent_sms=consents.get("sms"),
                  consent_voice=consents.get("voice"), paperless=consents.get("paperless"))
    balance = None
    raw_balance = data.get("balance")
    if raw_balance is not None:
        if not isinstance(raw_balance, dict):
            c.errors.append(RecordError("balance", "must be an object"))
        else:
            for key in raw_balance.keys() - _BALANCE_KEYS:
                c.errors.append(RecordError(f"balance.{key}", "is not a field of a balance"))
            aging = raw_balance.get("aging") or {}
            if not isinstance(aging, dict):
                c.errors.append(RecordError("balance.aging", "must be an object"))
                aging = {}
            for key in aging.keys() - _AGING_KEYS.keys():
                c.errors.append(RecordError(f"balance.aging.{key}", "is not an aging bucket"))
            if "total" not in raw_balance:
                c.errors.append(RecordError("balance.total", "is required"))
            buckets = {stored: c(f"balance.aging.{key}", clean_amount, aging.get(key))
                       for key, stored in _AGING_KEYS.items()}
            balance = BalanceRecord(
                total=c("balance.total", clean_amount, raw_balance.get("total")),
                amount_due=c("balance.amount_due", clean_amount, raw_balance.get("amount_due")),
                in_collections=c("balance.in_collections", clean_bool, raw_balance.get("in_collections")),
                on_payment_plan=c("balance.on_payment_plan", clean_bool, raw_balance.get("on_payment_plan")),
                outstanding_claims=c("balance.outstanding_claims", clean_count,
                                     raw_balance.get("outstanding_claims")),
                as_of=c("balance.as_of", clean_datetime, raw_balance.get("as_of")),
                **buckets,
            )
    return _build(c, fields, _JSON_NAMES, balance, "balance")


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def record_to_json(patient) -> dict:
    """The stored patient in the shape the API accepts."""
    data = {
        "external_id": patient.external_id,
        "first_name": patient.first_name,
        "last_name": patient.last_name,
        "date_of_birth": patient.date_of_birth.isoformat() if patient.date_of_birth else None,
        "email": patient.email,
        "mobile_phone": patient.mobile_phone,
        "home_phone": patient.home_phone,
        "time_zone": patient.time_zone,
        "guarantor_external_id": (patient.guarantor.external_id if patient.guarantor_id
                                  else patient.external_id),
        "consents": {"email": patient.consent_email, "sms": patient.consent_sms,
                     "voice": patient.consent_voice, "paperless": patient.paperless},
        "do_not_recall": patient.do_not_recall,
        "last_visit_on": patient.last_visit_on.isoformat() if patient.last_visit_on else None,
        "balance": None,
    }
    balance = getattr(patient, "balance", None) if patient.is_guarantor else None
    if balance is not None:
        data["balance"] = {
            "total": _money(balance.total), "amount_due": _money(balance.amount_due),
            "aging": {key: _money(getattr(balance, stored)) for key, stored in _AGING_KEYS.items()},
            "in_collections": balance.in_collections, "on_payment_plan": balance.on_payment_plan,
            "outstanding_claims": balance.outstanding_claims,
            "as_of": balance.as_of.isoformat().replace("+00:00", "Z") if balance.as_of else None,
        }
    return data


# --- CSV ---

CSV_COLUMNS = [
    ("external_id", "required: the patient's id in your practice-management system"),
    ("first_name", "required"),
    ("last_name", "required"),
    ("date_of_birth", "YYYY-MM-DD"),
    ("email", ""),
    ("mobile_phone", "any usual format; stored as +13125550142"),
    ("home_phone", "any usual format"),
    ("time_zone", "e.g. America/Chicago; empty means the office's"),
    ("guarantor_external_id", "the guarantor's external_id; empty or the patient's own id for a guarantor"),
    ("consent_email", "true/false (also yes/no, 1/0); empty is false"),
    ("consent_sms", "true/false"),
    ("consent_voice", "true/false"),
    ("paperless", "true/false"),
    ("do_not_recall", "true/false"),
    ("last_visit_on", "YYYY-MM-DD"),
    ("balance_total", "guarantors only: the account total, e.g. 125.40; empty means no balance"),
    ("balance_amount_due", "amount due now"),
    ("aging_current", "0-30 days"),
    ("aging_31_60", ""),
    ("aging_61_90", ""),
    ("aging_91_120", ""),
    ("aging_over_120", ""),
    ("in_collections", "true/false"),
    ("on_payment_plan", "true/false: on a payment plan in the PMS"),
    ("outstanding_claims", "number of insurance claims outstanding"),
    ("balance_as_of", "when the PMS computed the balance, ISO 8601"),
]
CSV_COLUMN_NAMES = [name for name, _ in CSV_COLUMNS]
CSV_REQUIRED = ["external_id", "first_name", "last_name"]
_BALANCE_COLUMNS = ["balance_total", "balance_amount_due", "aging_current", "aging_31_60", "aging_61_90",
                    "aging_91_120", "aging_over_120", "in_collections", "on_payment_plan",
                    "outstanding_claims", "balance_as_of"]
_CSV_NAMES = {name: name for name in _JSON_NAMES}


def _csv_fast(row: dict) -> PatientRecord:
    """The usual row, checked with the same rules as the full check but without collecting
    errors; anything unusual raises and the full check (record_from_csv) decides and explains."""
    get = row.get
    external_id = _text(get("external_id", ""), 64, True)
    guarantor = _text(get("guarantor_external_id", ""), 64, False)
    email = _text(get("email", ""), 254, False).lower()
    if email and not _EMAIL.match(email):
        raise _NotSimple
    time_zone = _text(get("time_zone", ""), 64, False)
    if time_zone and time_zone not in _time_zones():
        raise _NotSimple
    balance = None
    if (get("balance_total") or get("balance_amount_due") or get("aging_current") or get("aging_31_60")
            or get("aging_61_90") or get("aging_91_120") or get("aging_over_120") or get("in_collections")
            or get("on_payment_plan") or get("outstanding_claims") or get("balance_as_of")):
        if not get("balance_total", "").strip() or (guarantor and guarantor != external_id):
            raise _NotSimple
        balance = BalanceRecord(
            total=clean_amount(get("balance_total")), amount_due=clean_amount(get("balance_amount_due")),
            aging_current=clean_amount(get("aging_current")), aging_31_60=clean_amount(get("aging_31_60")),
            aging_61_90=clean_amount(get("aging_61_90")), aging_91_120=clean_amount(get("aging_91_120")),
            aging_over_120=clean_amount(get("aging_over_120")),
            in_collections=_BOOLS[get("in_collections", "").strip().lower()],
            on_payment_plan=_BOOLS[get("on_payment_plan", "").strip().lower()],
            outstanding_claims=clean_count(get("outstanding_claims")),
            as_of=clean_datetime(get("balance_as_of")))
    return PatientRecord(
        external_id=external_id,
        first_name=_text(get("first_name", ""), 100, True),
        last_name=_text(get("last_name", ""), 100, True),
        date_of_birth=_date(get("date_of_birth", ""), MIN_BIRTH_DATE),
        email=email,
        mobile_phone=clean_phone(get("mobile_phone", "")),
        home_phone=clean_phone(get("home_phone", "")),
        time_zone=time_zone,
        guarantor_external_id=guarantor or external_id,
        consent_email=_BOOLS[get("consent_email", "").strip().lower()],
        consent_sms=_BOOLS[get("consent_sms", "").strip().lower()],
        consent_voice=_BOOLS[get("consent_voice", "").strip().lower()],
        paperless=_BOOLS[get("paperless", "").strip().lower()],
        do_not_recall=_BOOLS[get("do_not_recall", "").strip().lower()],
        last_visit_on=_date(get("last_visit_on", "")),
        balance=balance,
    )


def record_from_csv(row: dict) -> tuple[PatientRecord | None, list[RecordError]]:
    """A CSV row as a dict of column -> text (absent optional columns are missing keys)."""
    try:
        return _csv_fast(row), []
    except (_NotSimple, FieldInvalid, KeyError, ValueError):
        return record_from_csv_checked(row)


def record_from_csv_checked(row: dict) -> tuple[PatientRecord | None, list[RecordError]]:
    """The full check of a CSV row: every problem, by column."""
    c = _Collector()
    fields = {name: row.get(name, "") for name in _CSV_NAMES}
    balance = None
    if any(row.get(name) for name in _BALANCE_COLUMNS):
        if not (row.get("balance_total") or "").strip():
            c.errors.append(RecordError("balance_total", "is required when other balance columns are filled"))
        get = row.get
        balance = BalanceRecord(
            total=c("balance_total", clean_amount, get("balance_total")),
            amount_due=c("balance_amount_due", clean_amount, get("balance_amount_due")),
            aging_current=c("aging_current", clean_amount, get("aging_current")),
            aging_31_60=c("aging_31_60", clean_amount, get("aging_31_60")),
            aging_61_90=c("aging_61_90", clean_amount, get("aging_61_90")),
            aging_91_120=c("aging_91_120", clean_amount, get("aging_91_120")),
            aging_over_120=c("aging_over_120", clean_amount, get("aging_over_120")),
            in_collections=c("in_collections", clean_bool, get("in_collections")),
            on_payment_plan=c("on_payment_plan", clean_bool, get("on_payment_plan")),
            outstanding_claims=c("outstanding_claims", clean_count, get("outstanding_claims")),
            as_of=c("balance_as_of", clean_datetime, get("balance_as_of")),
        )
    return _build(c, fields, _CSV_NAMES, balance, "balance_total")


def _fast_amount(value: str) -> str:
    # The text COPY reads as the amount clean_amount would store; anything else: the full check.
    if not value:
        return ZERO_TEXT
    if _ASCII_AMOUNT.fullmatch(value):
        return value
    raise _NotSimple


def _fast_day(value: str, earliest: str, latest: str) -> str | None:
    if not value:
        return None
    # YYYY-MM-DD compares as text as it does as a date; fromisoformat rejects 2026-02-30.
    if not _ISO_DAY.fullmatch(value) or value > latest or value < earliest:
        raise _NotSimple
    date.fromisoformat(value)
    return value


def csv_copy_row_reader(columns: list[str]):
    """A function (row number, the file's values) -> the row for COPY, led by the row number.

    The same rules as record_from_csv with the values kept as text where COPY reads them as
    the same stored value; it raises (_NotSimple, FieldInvalid, KeyError, ValueError) on anything
    unusual, which the caller then hands to record_from_csv_checked to decide and explain.
    """
    positions = [columns.index(name) if name in columns else -1 for name in CSV_COLUMN_NAMES]
    in_order = positions == list(range(len(CSV_COLUMN_NAMES)))
    empty_at = len(columns)
    pick = None if in_order else itemgetter(*[p if p >= 0 else empty_at for p in positions])
    zones = _time_zones()
    bools = _BOOL_SPELLINGS
    email_match = _EMAIL.fullmatch
    no_balance = _NO_BALANCE_TEXT

    def read(number: int, values: list[str]) -> tuple:
        if pick is not None:
            values = pick([*values, ""])
        (external_id, first, last, birth, email, mobile, home, zone, guarantor, c_email, c_sms, c_voice,
         paperless, no_recall, visit, total, due, a_current, a_31, a_61, a_91, a_120, collections, plan,
         claims, as_of) = values
        external_id = external_id.strip()
        first = first.strip()
        last = last.strip()
        guarantor = guarantor.strip() or external_id
        if (not external_id or not first or not last or len(external_id) > 64 or len(guarantor) > 64
                or len(first) > 100 or len(last) > 100):
            raise _NotSimple
        if email:
            if len(email) > 254:
                raise _NotSimple
            email = email.lower()
            if not email_match(email):
                raise _NotSimple
        if zone and zone not in zones:
            raise _NotSimple
        today = _today().isoformat()
        if (total or due or a_current or a_31 or a_61 or a_91 or a_120 or collections or plan or claims
                or as_of):
            if not total or guarantor != external_id:
                raise _NotSimple
            if claims and not _DIGITS.fullmatch(claims):
                raise _NotSimple
            balance = (True, _fast_amount(total), _fast_amount(due), _fast_amount(a_current),
                       _fast_amount(a_31), _fast_amount(a_61), _fast_amount(a_91), _fast_amount(a_120),
                       bools[collections], bools[plan], claims or "0", clean_datetime(as_of))
        else:
            balance = no_balance
        return (number, external_id, first, last, _fast_day(birth, _MIN_BIRTH_TEXT, today), email,
                _fast_phone(mobile), _fast_phone(home), zone, bools[c_email], bools[c_sms], bools[c_voice],
                bools[paperless], bools[no_recall], guarantor, _fast_day(visit, "", today), *balance)

    return read


_NO_BALANCE_TEXT = (False, None, None, None, None, None, None, None, None, None, None, None)
