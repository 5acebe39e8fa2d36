"""Field cleaners: each turns one value as sent into its stored form or raises FieldInvalid.

`Collector` runs them and gathers every problem under the caller's name for the field;
`build_record` assembles a record from the cleaned fields (the full check of both doors).
"""

import re
import time
import zoneinfo
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache

import phonenumbers

from .shape import BalanceRecord, PatientRecord, RecordError

DEFAULT_PHONE_REGION = "US"
MAX_AMOUNT = Decimal("9999999999.99")
# The balance's columns: 12 digits, 2 of them decimals; outstanding claims, a 32-bit integer.
MAX_AMOUNT_DIGITS = 10
MAX_COUNT = 2_147_483_647
# No birth, visit or balance of a patient alive today is older; every date from here to the
# present converts to any time zone and back without leaving the calendar.
EARLIEST_DATE = date(1900, 1, 1)
# A balance's as-of time may run ahead of ours by a PMS clock set wrong, not by more than this.
AS_OF_AHEAD = timedelta(days=1)

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
# The local part as RFC 5322 allows it unquoted (o'brien+x, first.last), letters of any script;
# the domain in ASCII (an internationalised domain arrives in its xn-- form).
_ATOM = r"[\w!#$%&'*+/=?^`{|}~-]+"
EMAIL = re.compile(rf"^{_ATOM}(?:\.{_ATOM})*@{_LABEL}(?:\.{_LABEL})*\.[A-Za-z]{{2,63}}$")
# North American numbers written the usual ways: +1 312 555 0142, (312) 555-0142, 312.555.0142.
# ASCII digits ([0-9], not \d): the digits are stored as written.
_NANP = re.compile(r"^\s*(?:\+?1[\s.-]?)?\(?([2-9][0-9]{2})\)?[\s.-]?([2-9][0-9]{2})[\s.-]?([0-9]{4})\s*$")
# An amount written the usual way (two decimals, in range): Decimal(text) is already the stored value.
_AMOUNT = re.compile(r"-?[0-9]{1,10}\.[0-9][0-9]")
# Any other amount this reads: ASCII digits, an optional sign and decimal point; no exponent,
# no NaN or Infinity, no digits of other scripts (Decimal would read all of those).
_AMOUNT_TEXT = re.compile(r"[-+]?([0-9]*)(?:\.([0-9]*))?")
_COUNT_TEXT = re.compile(r"[-+]?[0-9]+")
TRUE_WORDS = {"true", "yes", "y", "1", "t", "x"}
FALSE_WORDS = {"false", "no", "n", "0", "f", ""}
# Control characters (NUL, tab, CR/LF, escape, C1), line and paragraph separators, the
# characters that override or isolate the direction of text, and lone surrogates (not storable
# as UTF-8): none belongs in a name, an id or an address, and each can disguise what a screen,
# an export or a message shows.
UNSAFE_TEXT = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


class FieldInvalid(ValueError):
    pass


def quoted(value, limit: int = 40) -> str:
    """A value for an error message: quoted, and cut short (a field may be megabytes long)."""
    try:
        text = repr(value)
    except ValueError:  # an integer of more digits than Python prints
        return "a number too long to show"
    return text if len(text) <= limit else text[:limit - 1] + "\u2026"


def unsafe_character(text: str) -> str | None:
    """The first character of UNSAFE_TEXT in the text, named for a message (U+202E), or None."""
    found = UNSAFE_TEXT.search(text)
    return f"U+{ord(found.group()):04X}" if found else None


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
    # isprintable() (a loop in C) clears the usual text at once; what it leaves (a non-breaking
    # space, a joiner) is looked at closely.
    if not value.isprintable() and (character := unsafe_character(value)):
        raise FieldInvalid(f"contains a control or text-direction character ({character})")
    return value


def clean_email(value) -> str:
    value = clean_text(value, max_length=254).lower()
    if value and not EMAIL.fullmatch(value):
        raise FieldInvalid(f"{quoted(value)} is not an email address")
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
        raise FieldInvalid(f"{quoted(value)} is not a phone number") from None
    if not phonenumbers.is_valid_number(parsed):
        raise FieldInvalid(f"{quoted(value)} is not a valid phone number")
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
            raise FieldInvalid(f"{quoted(value)} is not a valid phone number")
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
            raise FieldInvalid(f"{quoted(text)} is not a date (YYYY-MM-DD)") from None
    else:
        raise FieldInvalid("must be a date as text (YYYY-MM-DD)")
    if not_after_today and parsed > today():
        raise FieldInvalid(f"{text} is in the future")
    if earliest and parsed < earliest:
        raise FieldInvalid(f"{text} is before {earliest.isoformat()}")
    return parsed


def clean_datetime(value) -> datetime | None:
    """An aware time in UTC, from 1900 to a day ahead of now; without an offset, UTC."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise FieldInvalid("must be a date and time as text (ISO 8601)")
    return _datetime_text(value)


@lru_cache(maxsize=4096)
def _datetime_text(value: str) -> datetime | None:
    # A batch's balances usually share one as-of time: check each distinct text once. A time
    # not in the future stays so, and a refusal (an exception) is not remembered.
    text = value.strip()
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise FieldInvalid(f"{quoted(text)} is not a date and time (ISO 8601, e.g. 2026-03-01T08:00:00Z)"
                           ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        # 0001-01-01T00:00:00+05:00 is before the calendar begins once in UTC; 9999-12-31T23:59:59-05:00
        # is after it ends.
        parsed = parsed.astimezone(UTC)
    except OverflowError:
        past = parsed.year < EARLIEST_DATE.year
        raise FieldInvalid(f"{quoted(text)} is {'before 1900' if past else 'in the future'}") from None
    if parsed.date() < EARLIEST_DATE:
        raise FieldInvalid(f"{quoted(text)} is before {EARLIEST_DATE.year}")
    if parsed.date() > today() + AS_OF_AHEAD:
        raise FieldInvalid(f"{quoted(text)} is in the future")
    return parsed


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
    raise FieldInvalid(f"{quoted(value)} is not true or false")


def clean_amount(value) -> Decimal:
    if type(value) is str and _AMOUNT.fullmatch(value):
        return Decimal(value)
    if value is None or value == "":
        return Decimal("0.00")
    if isinstance(value, (bool, float)):
        raise FieldInvalid("send amounts as decimal strings, e.g. \"125.40\"")
    if isinstance(value, int):
        if abs(value) > MAX_AMOUNT:
            raise FieldInvalid(f"{quoted(value)} is more than {MAX_AMOUNT:,}")
        return Decimal(value).quantize(Decimal("0.01"))
    if not isinstance(value, str):
        raise FieldInvalid("must be an amount as text (e.g. \"125.40\")")
    text = value.strip()
    match = _AMOUNT_TEXT.fullmatch(text)
    if not match or not (match.group(1) or match.group(2)):
        raise FieldInvalid(f"{quoted(value)} is not an amount (e.g. 125.40)")
    whole, cents = match.group(1).lstrip("0"), match.group(2) or ""
    if len(cents) > 2:
        raise FieldInvalid(f"{quoted(value)} has more than two decimal places")
    # Counted before Decimal reads it: a number of a million digits costs nothing to refuse.
    if len(whole) > MAX_AMOUNT_DIGITS:
        raise FieldInvalid(f"{quoted(value)} is more than {MAX_AMOUNT:,}")
    return Decimal(text).quantize(Decimal("0.01"))


def clean_count(value) -> int:
    if value is None or value == "":
        return 0
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise FieldInvalid("must be a whole number")
    if isinstance(value, str):
        text = value.strip()
        if not _COUNT_TEXT.fullmatch(text):
            raise FieldInvalid(f"{quoted(value)} is not a whole number")
        if len(text.lstrip("+-0")) > len(str(MAX_COUNT)):
            raise FieldInvalid(f"{quoted(value)} is more than {MAX_COUNT:,}")
        value = int(text)
    if value < 0:
        raise FieldInvalid(f"{quoted(value)} is not a whole number of zero or more")
    if value > MAX_COUNT:
        raise FieldInvalid(f"{quoted(value)} is more than {MAX_COUNT:,}")
    return value


@lru_cache(maxsize=1)
def time_zones() -> frozenset:
    return frozenset(zoneinfo.available_timezones())


def clean_time_zone(value) -> str:
    value = clean_text(value, max_length=64)
    if value and value not in time_zones():
        raise FieldInvalid(f"{quoted(value)} is not a time zone (e.g. America/Chicago)")
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
        except (ArithmeticError, TypeError, ValueError):
            # A value no rule foresaw: refused by name, never an error of the whole request.
            self.errors.append(RecordError(field, "cannot be read"))
        return None


def build_record(c: Collector, fields: dict, names: dict, balance: BalanceRecord | None,
                 balance_field: str) -> tuple[PatientRecord | None, list[RecordError]]:
    external_id = c(names["external_id"], clean_text, fields["external_id"], max_length=64, required=True)
    guarantor = c(names["guarantor_external_id"], clean_text, fields["guarantor_external_id"], max_length=64)
    record = PatientRecord(
        external_id=external_id,
        first_name=c(names["first_name"], clean_text, fields["first_name"], max_length=100, required=True),
        last_name=c(names["last_name"], clean_text, fields["last_name"], max_length=100, required=True),
        date_of_birth=c(names["date_of_birth"], clean_date, fields["date_of_birth"], earliest=EARLIEST_DATE),
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
        last_visit_on=c(names["last_visit_on"], clean_date, fields["last_visit_on"], earliest=EARLIEST_DATE),
        balance=balance,
    )
    if balance is not None and external_id and guarantor and guarantor != external_id:
        c.errors.append(RecordError(balance_field, "only a guarantor (their own guarantor) has a balance"))
    if c.errors:
        return None, c.errors
    return record, []


