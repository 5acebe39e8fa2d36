from datetime import datetime, time, timedelta

from django import forms
from django.utils import timezone

from .models import Channel, Status
from .selectors import Filters, parse_cursor


class NotificationFilterForm(forms.Form):
    kind = forms.CharField(required=False, max_length=40,
                           widget=forms.TextInput(attrs={"placeholder": "e.g. balance_dunning"}))
    channel = forms.ChoiceField(required=False, choices=[("", "Any channel"), *Channel.choices])
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *Status.choices])
    date_from = forms.DateField(required=False, label="From",
                                widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, label="To",
                              widget=forms.DateInput(attrs={"type": "date"}))
    recipient = forms.CharField(required=False, max_length=200,
                                help_text="Name, address, or #id")
    after = forms.CharField(required=False, widget=forms.HiddenInput)

    def clean_after(self):
        value = self.cleaned_data["after"]
        if value and parse_cursor(value) is None:
            raise forms.ValidationError("That page link is not valid; start from the first page.")
        return value

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            raise forms.ValidationError("The start date is after the end date.")
        return data

    def filters(self, tz) -> Filters:
        d = self.cleaned_data
        start = (timezone.make_aware(datetime.combine(d["date_from"], time()), tz)
                 if d.get("date_from") else None)
        end = (timezone.make_aware(datetime.combine(d["date_to"] + timedelta(days=1), time()), tz)
               if d.get("date_to") else None)
        return Filters(kind=d.get("kind", ""), channel=d.get("channel", ""),
                       status=d.get("status", ""), date_from=start, date_to=end,
                       recipient=d.get("recipient", ""))


class BulkActionForm(forms.Form):
    ACTIONS = [("cancel", "Cancel"), ("archive", "Archive"),
               ("cancel_opt_out", "Cancel and opt out (permanent errors)")]
    action = forms.ChoiceField(choices=ACTIONS)
    ids = forms.TypedMultipleChoiceField(coerce=int, choices=[])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Any integers: the service only touches rows of the current practice.
        self.fields["ids"].valid_value = lambda value: str(value).isdigit()
        self.fields["ids"].error_messages["required"] = "Select at least one message."
