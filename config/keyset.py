"""Keyset pages of a list read newest first by (created_at, id): the outbox's history and the
payments received. A page link carries the last row's position as `<created_at ISO>_<id>`, so
the cost of a page does not grow with how far back it is; a cursor the list could not have
written (naive, past 64 bits, off the calendar the screens accept) reads as None."""

from dataclasses import dataclass
from datetime import UTC, datetime

from django.db.models import Q, QuerySet

MAX_ID = 2**63 - 1  # a 64-bit primary key
YEARS = range(1900, 3000)  # the dates the screens accept, so a cursor compares without overflow


@dataclass
class KeysetPage:
    rows: list
    next_cursor: str
    has_previous: bool


def cursor_write(row) -> str:
    return f"{row.created_at.isoformat()}_{row.pk}"


def cursor_read(value: str) -> tuple[datetime, int] | None:
    """The (created_at, id) a page link names, or None when it is not one the list wrote."""
    try:
        stamp, pk = value.rsplit("_", 1)
        moment, number = datetime.fromisoformat(stamp), int(pk)
    except (ValueError, AttributeError, OverflowError):
        return None
    if moment.tzinfo is None or not 0 < number <= MAX_ID:
        return None
    try:  # an offset that moves a calendar-edge time past year 1 or 9999 cannot be compared
        if moment.astimezone(UTC).year not in YEARS:
            return None
    except OverflowError:
        return None
    return moment, number


def keyset_page(qs: QuerySet, *, after: str = "", size: int) -> KeysetPage:
    """`size` rows of `qs` newest first, continuing after the cursor `after`."""
    position = cursor_read(after) if after else None
    if position:
        stamp, pk = position
        qs = qs.filter(Q(created_at__lt=stamp) | Q(created_at=stamp, pk__lt=pk))
    rows = list(qs.order_by("-created_at", "-pk")[:size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return KeysetPage(rows=rows, next_cursor=cursor_write(rows[-1]) if more else "",
                      has_previous=bool(position))
