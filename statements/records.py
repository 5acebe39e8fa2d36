"""A statement as the PMS sends it (API item or CSV row), checked field by field.

Both doors give the same dicts of text: {"guarantor_external_id", "statement_date", "due_date",
"amount_due", "balance"}. A problem names the field as the caller spelled it.
"""

import hashlib
import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

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


def record_check(index: int, item) -> tuple[StatementRecord | None, list[tuple[str, str]]]:
    """A checked record, or the problems (field, message) of the item."""
    if not isinstance(item, dict):
        return None, [("", "each statement is an object with " + ", ".join(FIELDS))]
    if "__width__" in item:  # a CSV row of the wrong width (patients.csv_import.csv_rows)
        return None, [("", item["__width__"])]
    errors = []
    unknown = [k for k in item if k not in FIELDS]
    if unknown:
        errors.append((str(unknown[0])[:64], "is not a statement field"))
    values = {}
    latest = timezone.localdate() + LATEST_AHEAD
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
    the same batch_id with the same statements is a repeat, with others a conflict."""

    def __init__(self, profile_slug: str):
        self.profile_slug = profile_slug
        self.lines: list[str] = []

    def add(self, item) -> None:
        if isinstance(item, dict):
            self.lines.append("\x1f".join(str(item.get(name, "")).strip() for name in FIELDS))
        else:
            self.lines.append(repr(item))

    def hexdigest(self) -> str:
        digest = hashlib.sha256(self.profile_slug.encode())
        for line in sorted(self.lines):
            digest.update(b"\x1e" + line.encode("utf-8", "surrogatepass"))
        return digest.hexdigest()
