"""Field cleaners: each turns one value as sent into its stored form or raises FieldInvalid.

`Collector` runs them and gathers every problem under the caller's name for the field;
`build_record` assembles a record from the cleaned fields (the full check of both doors).
"""

import re
import time
import zoneinfo
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache

import phonenumbers

from .shape import BalanceRecord, PatientRecord, RecordError

DEFAULT_PHONE_REGION = "US"
MAX_AMOUNT = Decimal("9999999999.99")
MIN_BIRTH_DATE = date(1900, 1, 1)

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
EMAIL = re.compile(rf"^[^@\s,;<>\"']+@{_LABEL}(?:\.{_LABEL})*\.[A-Za-z]{{2,63}}$")
# North American numbers written the usual ways: +1 312 555 0142, (312) 555-0142, 312.555.0142.
_NANP = re.compile(r"^\s*(?:\+?1[\s.-]?)?\(?([2-9]\d{2})\)?[\s.-]?([2-9]\d{2})[\s.-]?(\d{4})\s*$")
# An amount written the usual way (two decimals, in range): Decimal(text) is already the stored value.
_AMOUNT = re.compile(r"-?\d{1,10}\.\d\d")
TRUE_WORDS = {"true", "yes", "y", "1", "t", "x"}
FALSE_WORDS = {"false", "no", "n", "0", "f", ""}


class FieldInvalid(ValueError):
    pass


_today_cache = [0.0, date.min]


def today() -> date:
    # date.today() costs a system call; a value a minute old is as good for "not in the future".
    now = time.monotonic()
    if now - _today_cache[0] > 60:
        _today_cache[:] = [now, date.today()]
    return _today_cache[1]


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
    if value and not EMAIL.match(value):
        raise FieldInvalid(f"{value!r} is not an email address")
    return value


@lru_cache(maxsize=65536)
def nanp_prefix_valid(prefix: str) -> bool:
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
        if not nanp_prefix_valid(npa + nxx):
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
    if not_after_today and parsed > today():
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
        if lowered in TRUE_WORDS:
            return True
        if lowered in FALSE_WORDS:
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
def time_zones() -> frozenset:
    return frozenset(zoneinfo.available_timezones())


def clean_time_zone(value) -> str:
    value = clean_text(value, max_length=64)
    if value and value not in time_zones():
        raise FieldInvalid(f"{value!r} is not a time zone (e.g. America/Chicago)")
    return value


class Collector:
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


def build_record(c: Collector, fields: dict, names: dict, balance: BalanceRecord | None,
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


