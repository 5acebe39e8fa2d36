"""The quick paths' shared pieces: the same rules as the full check for the usual value,
without collecting errors. Anything unusual raises, and the full check decides and explains."""

import re
from datetime import date

from .fields import (
    EARLIEST_DATE,
    FALSE_WORDS,
    TRUE_WORDS,
    UNSAFE_TEXT,
    clean_phone,
    nanp_prefix_valid,
    today,
)


class NotSimple(Exception):
    """The fast path met something it leaves to the full check."""


# What a quick path may raise on a value it does not take: the caller then runs the full check.
LEFT_TO_FULL_CHECK = (NotSimple, KeyError, ValueError, TypeError, ArithmeticError)


BOOLS = {**dict.fromkeys(TRUE_WORDS, True), **dict.fromkeys(FALSE_WORDS, False)}


def quick_text(value: str, max_length: int, required: bool) -> str:
    value = value.strip()
    if (required and not value) or len(value) > max_length or UNSAFE_TEXT.search(value):
        raise NotSimple
    return value


def quick_date(value: str, earliest: date | None = None) -> date | None:
    value = value.strip()
    if not value:
        return None
    if len(value) != 10:
        raise NotSimple
    parsed = date.fromisoformat(value)  # ValueError: left to the full check
    if parsed > today() or (earliest and parsed < earliest):
        raise NotSimple
    return parsed


# Every spelling BOOLS reads, in the cases a spreadsheet writes; others go to the full check.
BOOL_SPELLINGS = {spelling: value for word, value in BOOLS.items()
                  for spelling in (word, word.upper(), word.title())}
# ASCII digits only ([0-9], not \d), no leading zeros: these values go to PostgreSQL as they are
# written, the same text as the full check's stored value.
E164_NANP = re.compile(r"\+1[2-9][0-9][0-9][2-9][0-9]{6}")
DIGITS = re.compile(r"0|[1-9][0-9]{0,8}")
ISO_DAY = re.compile(r"[0-9]{4}-[0-9][0-9]-[0-9][0-9]")
ASCII_AMOUNT = re.compile(r"-?(?:0|[1-9][0-9]{0,9})\.[0-9][0-9]")
EARLIEST_TEXT = EARLIEST_DATE.isoformat()
ZERO_TEXT = "0.00"


def quick_phone(value: str) -> str:
    if not value:
        return ""
    # Already E.164: only the NPA-NXX prefix needs phonenumbers' verdict (see nanp_prefix_valid).
    if E164_NANP.fullmatch(value) and nanp_prefix_valid(value[2:8]):
        return value
    return clean_phone(value)


def quick_amount(value: str) -> str:
    # The text COPY reads as the amount clean_amount would store; anything else: the full check.
    if not value:
        return ZERO_TEXT
    if ASCII_AMOUNT.fullmatch(value):
        return value
    raise NotSimple


def quick_day(value: str, earliest: str, latest: str) -> str | None:
    if not value:
        return None
    # YYYY-MM-DD compares as text as it does as a date; fromisoformat rejects 2026-02-30.
    if not ISO_DAY.fullmatch(value) or value > latest or value < earliest:
        raise NotSimple
    date.fromisoformat(value)
    return value

