"""A statement as the PMS sends it (API item or CSV row), checked field by field.

Both doors give the same dicts of text: {"guarantor_external_id", "statement_date", "due_date",
"amount_due", "balance"}. A problem names the field as the caller spelled it.
"""

import hashlib
import re
import time
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from django.utils import timezone

FIELDS = ("guarantor_external_id", "statement_date", "due_date", "amount_due", "balance")
CSV_COLUMNS = [
    ("guarantor_external_id", "The guarantor's PMS id (required; a patient who is their own guarantor)"),
    ("statement_date", "The statement's date, YYYY-MM-DD (required)"),
    ("due_date", "When payment is due, YYYY-MM-DD, on or after the statement date (required)"),
    ("amount_due", "The amount due now, e.g. 125.00 (required; 0.00 when nothing is due)"),
    ("balance", "The account's whole balance, e.g. 250.00 (required; may be negative for a credit)"),
]
EARLIEST = date(2000, 1, 1)
LATEST_AHEAD = timedelta(days=365)  # a statement date at most a year ahead
MAX_DUE_AFTER = timedelta(days=366)  # a due date within a year of the statement date
MAX_AMOUNT = Decimal("9999999999.99")
_AMOUNT = re.compile(r"-?(?:0|[1-9][0-9]{0,9})\.[0-9][0-9]")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(slots=True)
class StatementRecord:
    index: int  # position in the request (API) or row number (CSV)
    guarantor_external_id: str
    statement_date: date
    due_date: date
    amount_due: Decimal
    balance: Decimal


class Invalid(ValueError):
    pass


def _text(value) -> str:
    if not isinstance(value, str):
        raise Invalid("must be text")
    value = value.strip()
    if not value:
        raise Invalid("is required")
    if len(value) > 64:
        raise Invalid("is longer than 64 characters")
    if _CONTROL.search(value):
        raise Invalid("contains a control character")
    return value


def _day(value, latest: date) -> date:
    if not isinstance(value, str):
        raise Invalid("must be a date as text (YYYY-MM-DD)")
    text = value.strip()
    if not text:
        raise Invalid("is required")
    try:
        if not _DAY.fullmatch(text):
            raise ValueError
        parsed = date.fromisoformat(text)
    except ValueError:
        raise Invalid(f"{text[:40]!r} is not a date (YYYY-MM-DD)") from None
    if parsed < EARLIEST:
        raise Invalid(f"{text} is before {EARLIEST.isoformat()}")
    if parsed > latest:
        raise Invalid(f"{text} is after {latest.isoformat()}")
    return parsed


def _amount(value, *, negative: bool) -> Decimal:
    if isinstance(value, bool | float | int):
        raise Invalid('send amounts as decimal strings, e.g. "125.00"')
    if not isinstance(value, str):
        raise Invalid("must be an amount as text, e.g. 125.00")
    text = value.strip()
    if not text:
        raise Invalid("is required")
    if _AMOUNT.fullmatch(text):
        amount = Decimal(text)
    else:
        try:
            amount = Decimal(text) if len(text) <= 40 else None
        except (InvalidOperation, ValueError):
            amount = None
        if amount is None or not amount.is_finite():
            raise Invalid(f"{text[:40]!r} is not an amount (e.g. 125.00)")
        if amount.as_tuple().exponent < -2:
            raise Invalid(f"{text[:40]!r} has more than two decimal places")
        if abs(amount) > MAX_AMOUNT:
            raise Invalid(f"{text[:40]!r} is too large")
        amount = amount.quantize(Decimal("0.01"))
    if amount < 0 and not negative:
        raise Invalid(f"{text} is negative")
    return amount


_PLAIN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/:#-]{0,63}")
_PLAIN_AMOUNT = re.compile(r"(?:0|[1-9][0-9]{0,9})\.[0-9][0-9]")  # not negative


@lru_cache(maxsize=4096)
def _plain_day(text: str) -> date | None:
    """A YYYY-MM-DD day (a batch has few distinct ones), or None to take the full check."""
    if not _DAY.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def record_check(index: int, item) -> tuple[StatementRecord | None, list[tuple[str, str]]]:
    """A checked record, or the problems (field, message) of the item.

    The usual statement (five plain text fields, a plain id, ISO days, amounts written with two
    decimals) is taken in a few steps; anything else goes through the full check, which decides
    the same and names every problem.
    """
    if item.__class__ is dict and len(item) == 5:
        try:
            g, sd, dd = item["guarantor_external_id"], item["statement_date"], item["due_date"]
            ad, b = item["amount_due"], item["balance"]
        except KeyError:
            pass
        else:
            if (g.__class__ is str and _PLAIN_ID.fullmatch(g) and sd.__class__ is str and dd.__class__ is str
                    and ad.__class__ is str and b.__class__ is str and _PLAIN_AMOUNT.fullmatch(ad)
                    and _AMOUNT.fullmatch(b)):
                first, due = _plain_day(sd), _plain_day(dd)
                latest = _latest()
                if (first is not None and due is not None and EARLIEST <= first <= latest
                        and first <= due and (due - first) <= MAX_DUE_AFTER):
                    amount_due, balance = Decimal(ad), Decimal(b)
                    if amount_due <= balance:
                        return StatementRecord(index, g, first, due, amount_due, balance), []
    return _record_check(index, item)


def _latest() -> date:
    """The latest statement date taken: a year from today (today read at most once a minute)."""
    now = time.monotonic()
    if now - _latest_cache[0] > 60:
        _latest_cache[:] = [now, timezone.localdate() + LATEST_AHEAD]
    return _latest_cache[1]


_latest_cache: list = [0.0, date.min]


def _record_check(index: int, item) -> tuple[StatementRecord | None, list[tuple[str, str]]]:
    if not isinstance(item, dict):
        return None, [("", "each statement is an object with " + ", ".join(FIELDS))]
    if "__width__" in item:  # a CSV row of the wrong width (patients.csv_import.csv_rows)
        return None, [("", item["__width__"])]
    errors = []
    unknown = [k for k in item if k not in FIELDS]
    if unknown:
        errors.append((str(unknown[0])[:64], "is not a statement field"))
    values = {}
    latest = _latest()
    checks = {
        "guarantor_external_id": _text,
        "statement_date": lambda v: _day(v, latest),
        "due_date": lambda v: _day(v, latest + MAX_DUE_AFTER),
        "amount_due": lambda v: _amount(v, negative=False),
        "balance": lambda v: _amount(v, negative=True),
    }
    for name, check in checks.items():
        try:
            values[name] = check(item.get(name))
        except Invalid as exc:
            errors.append((name, str(exc)))
    if not errors:
        if values["due_date"] < values["statement_date"]:
            errors.append(("due_date", "is before the statement date"))
        elif values["due_date"] - values["statement_date"] > MAX_DUE_AFTER:
            errors.append(("due_date", "is more than a year after the statement date"))
        if values["amount_due"] > values["balance"]:
            errors.append(("amount_due", "is more than the balance"))
    if errors:
        return None, errors
    return StatementRecord(index=index, **values), []


class ContentDigest:
    """A digest of a batch's statements as sent, whatever their order and door (API or CSV):
    the same batch_id with the same statements is a repeat, with others a conflict.

    Each statement's SHA-256 is added up (modulo 2**256), so the order does not matter and
    nothing is kept per statement.
    """

    def __init__(self, profile_slug: str):
        self.profile_slug = profile_slug
        self.total = 0
        self.count = 0

    def add(self, item) -> None:
        if isinstance(item, dict):
            line = "\x1f".join(str(item.get(name, "")).strip() for name in FIELDS)
        else:
            line = repr(item)
        self.total += int.from_bytes(hashlib.sha256(line.encode("utf-8", "surrogatepass")).digest())
        self.count += 1

    def hexdigest(self) -> str:
        total = self.total % (1 << 256)
        return hashlib.sha256(f"{self.profile_slug}\x1e{self.count}\x1e{total:064x}".encode()).hexdigest()
