"""The analytics' range: office days from one date to another, for one office or several, cut
into periods (days, weeks or months) for the charts over time.

Each office's days are its own: with "all my offices", a day is midnight to midnight in each
office's time zone, so every figure of an office is the one its own page shows.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from urllib.parse import urlencode

# A range longer than this is shown by week, then by month (charts stay readable at 390 px).
DAILY_UP_TO = 31
WEEKLY_UP_TO = 92


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # the last day, included

    @property
    def label(self) -> str:
        if self.start == self.end:
            return self.start.isoformat()
        return f"{self.start.isoformat()} to {self.end.isoformat()}"

    @property
    def short(self) -> str:
        """As a chart's axis shows it: "Nov 7", "Nov 2", "Nov 2026" (a month from its first)."""
        if self.start.day == 1 and (self.end + timedelta(days=1)).day == 1:
            return f"{self.start:%b %Y}"
        return f"{self.start:%b} {self.start.day}"


def office_midnight(day: date, tz) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=tz)


def _periods(first: date, last: date, grain: str) -> list[Period]:
    periods, start = [], first
    while start <= last:
        if grain == "day":
            end = start
        elif grain == "week":  # to Sunday: weeks start on Monday
            end = start + timedelta(days=6 - start.weekday())
        else:  # to the month's last day
            following = date(start.year + start.month // 12, start.month % 12 + 1, 1)
            end = following - timedelta(days=1)
        end = min(end, last)
        periods.append(Period(start, end))
        start = end + timedelta(days=1)
    return periods


@dataclass(frozen=True)
class Scope:
    """Offices and days the figures are about."""

    practices: tuple  # Practice rows
    date_from: date
    date_to: date  # included
    all_offices: bool = False

    @property
    def query(self) -> str:
        """The query string that names this scope (the CSV links carry it)."""
        return urlencode({"date_from": self.date_from.isoformat(), "date_to": self.date_to.isoformat(),
                          **({"offices": "all"} if self.all_offices else {})})

    @property
    def days(self) -> int:
        return (self.date_to - self.date_from).days + 1

    @property
    def grain(self) -> str:
        if self.days <= DAILY_UP_TO:
            return "day"
        return "week" if self.days <= WEEKLY_UP_TO else "month"

    @property
    def periods(self) -> list[Period]:
        return _periods(self.date_from, self.date_to, self.grain)

    def bounds(self, practice) -> tuple[datetime, datetime]:
        """[start, end) of the range in the office's time zone."""
        return (office_midnight(self.date_from, practice.tz),
                office_midnight(self.date_to + timedelta(days=1), practice.tz))

    def edges(self, practice) -> list[datetime]:
        """The n + 1 edges of the n periods, in the office's time zone."""
        tz = practice.tz
        return ([office_midnight(p.start, tz) for p in self.periods]
                + [office_midnight(self.date_to + timedelta(days=1), tz)])
