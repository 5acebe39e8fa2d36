from datetime import date, timedelta

from django import forms

from .periods import Scope
from .tables import TABLE_NAMES

EARLIEST = date(2000, 1, 1)
LATEST = date(2999, 12, 31)
MAX_DAYS = 366  # a year, leap day included
DEFAULT_DAYS = 30
_DAY = {"type": "date", "min": EARLIEST.isoformat(), "max": LATEST.isoformat()}


class AnalyticsForm(forms.Form):
    """The range and the offices. Empty dates mean the last 30 days up to today (office time)."""

    date_from = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs=_DAY))
    date_to = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs=_DAY))
    offices = forms.ChoiceField(required=False, label="Offices",
                                choices=[("current", "This office"), ("all", "All my offices")])

    def __init__(self, data, *, today: date, **kwargs):
        # The inputs show the range the page shows: missing dates are filled in as clean() would.
        data = data.copy()
        if not data.get("date_from") and not data.get("date_to"):
            data["date_to"] = today.isoformat()
            data["date_from"] = max(EARLIEST, today - timedelta(days=DEFAULT_DAYS - 1)).isoformat()
        super().__init__(data, **kwargs)
        self.today = today

    def _day(self, name: str) -> date | None:
        value = self.cleaned_data[name]
        if value and not EARLIEST <= value <= LATEST:
            raise forms.ValidationError(f"Enter a date from {EARLIEST:%Y-%m-%d} to {LATEST:%Y-%m-%d}.")
        return value

    def clean_date_from(self):
        return self._day("date_from")

    def clean_date_to(self):
        return self._day("date_to")

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        to = data.get("date_to") or (data["date_from"] + timedelta(days=DEFAULT_DAYS - 1)
                                     if data.get("date_from") else self.today)
        start = data.get("date_from") or max(EARLIEST, to - timedelta(days=DEFAULT_DAYS - 1))
        if start > to:
            self.add_error("date_to", "The end date is before the start date.")
        elif (to - start).days + 1 > MAX_DAYS:
            self.add_error("date_to", f"Choose at most {MAX_DAYS} days (a year).")
        data["date_from"], data["date_to"] = start, min(to, LATEST)
        data["offices"] = data.get("offices") or "current"
        return data

    def scope(self, request) -> Scope:
        everywhere = self.cleaned_data["offices"] == "all"
        practices = ([m.practice for m in request.memberships] if everywhere else [request.practice])
        return Scope(practices=tuple(practices), date_from=self.cleaned_data["date_from"],
                     date_to=self.cleaned_data["date_to"], all_offices=everywhere)


class AnalyticsCsvForm(AnalyticsForm):
    table = forms.ChoiceField(choices=[(name, name) for name in TABLE_NAMES], error_messages={
        "required": "Name the table to export.",
        "invalid_choice": "table must be one of: " + ", ".join(TABLE_NAMES)})
