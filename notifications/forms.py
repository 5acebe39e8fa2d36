import re
from datetime import date, datetime, time, timedelta

from django import forms
from django.utils import timezone

from config.keyset import cursor_read

from .models import Channel, Status
from .selectors import Filters

# Dates a filter or a page link may name: every day between converts to any office's time zone
# and to UTC without leaving the calendar (9999-12-31 in Chicago, 0001-01-01 in Kiritimati do not).
EARLIEST_DAY = date(1900, 1, 1)
LATEST_DAY = date(2999, 12, 31)
MAX_ID = 2**63 - 1  # a 64-bit primary key
_ID = re.compile(r"[0-9]{1,19}")
_MESSAGING_SERVICE_SID = re.compile(r"MG[0-9a-fA-F]{32}")


_DAY_PICKER = {"type": "date", "min": EARLIEST_DAY.isoformat(), "max": LATEST_DAY.isoformat()}


def _day_in_range(value: date | None) -> date | None:
    if value and not EARLIEST_DAY <= value <= LATEST_DAY:
        raise forms.ValidationError(f"Enter a date from {EARLIEST_DAY:%Y-%m-%d} to {LATEST_DAY:%Y-%m-%d}.")
    return value


def _id_valid(value) -> bool:
    text = str(value)
    return bool(_ID.fullmatch(text)) and 0 < int(text) <= MAX_ID


class NotificationFilterForm(forms.Form):
    kind = forms.CharField(required=False, max_length=40,
                           widget=forms.TextInput(attrs={"placeholder": "e.g. balance_dunning"}))
    channel = forms.ChoiceField(required=False, choices=[("", "Any channel"), *Channel.choices])
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *Status.choices])
    date_from = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs=_DAY_PICKER))
    date_to = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs=_DAY_PICKER))
    recipient = forms.CharField(required=False, max_length=200,
                                help_text="Name, address, or #id")
    tag = forms.CharField(required=False, max_length=100, widget=forms.HiddenInput)
    after = forms.CharField(required=False, widget=forms.HiddenInput)

    def clean_date_from(self):
        return _day_in_range(self.cleaned_data["date_from"])

    def clean_date_to(self):
        return _day_in_range(self.cleaned_data["date_to"])

    def clean_after(self):
        value = self.cleaned_data["after"]
        if value and cursor_read(value) is None:
            # The field is hidden: the message goes above the filters, where it is seen.
            self.add_error(None, "That page link is not valid; start from the first page.")
            return ""
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
                       recipient=d.get("recipient", ""), tag=d.get("tag", ""))


class BulkActionForm(forms.Form):
    ACTIONS = [("cancel", "Cancel"), ("archive", "Archive"),
               ("cancel_opt_out", "Cancel and opt out (permanent errors)")]
    action = forms.ChoiceField(choices=ACTIONS)
    ids = forms.TypedMultipleChoiceField(coerce=int, choices=[])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Any ids (ASCII digits, 64 bits): the service only touches rows of the current practice.
        self.fields["ids"].valid_value = _id_valid
        self.fields["ids"].error_messages["required"] = "Select at least one message."
        self.fields["ids"].error_messages["invalid_choice"] = "Select messages from the list."


class MessagingSettingsForm(forms.ModelForm):
    class Meta:
        from .models import MessagingSettings

        model = MessagingSettings
        fields = ["twilio_messaging_service_sid", "twilio_from_number", "quiet_hours_start",
                  "quiet_hours_end", "frequency_cap", "frequency_window_days", "rate_per_second"]
        labels = {"twilio_messaging_service_sid": "Twilio messaging service SID",
                  "twilio_from_number": "Twilio from-number (SMS and voice)",
                  "quiet_hours_start": "Texts and calls from", "quiet_hours_end": "until",
                  "frequency_cap": "At most this many texts and calls per person",
                  "frequency_window_days": "in this many days",
                  "rate_per_second": "Sending rate (messages a second)"}
        help_texts = {"quiet_hours_start": "Recipient's local time; never earlier than 08:00.",
                      "quiet_hours_end": "Never later than 21:00.",
                      "rate_per_second": "Leave empty for the default of your Twilio number."}
        widgets = {"quiet_hours_start": forms.TimeInput(attrs={"type": "time"}),
                   "quiet_hours_end": forms.TimeInput(attrs={"type": "time"})}

    def clean_twilio_messaging_service_sid(self):
        value = self.cleaned_data["twilio_messaging_service_sid"].strip()
        # MG and 32 hexadecimal digits, in ASCII: isalnum() would take digits and letters of any script.
        if value and not _MESSAGING_SERVICE_SID.fullmatch(value):
            raise forms.ValidationError("A messaging service SID starts with MG and has 34 characters "
                                        "(MG and 32 of 0-9 and a-f).")
        return value

    def clean_twilio_from_number(self):
        import phonenumbers

        value = self.cleaned_data["twilio_from_number"].strip()
        if not value:
            return value
        try:
            number = phonenumbers.parse(value, None)
        except phonenumbers.NumberParseException:
            number = None
        if number is None or not phonenumbers.is_valid_number(number):
            raise forms.ValidationError("Enter the number in international form, like +13125550100.")
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

    def clean(self):
        from .quiet_hours import LEGAL_END, LEGAL_START

        data = super().clean()
        start, end = data.get("quiet_hours_start"), data.get("quiet_hours_end")
        if start and start < LEGAL_START:
            self.add_error("quiet_hours_start", "Texts and calls may not start before 08:00.")
        if end and end > LEGAL_END:
            self.add_error("quiet_hours_end", "Texts and calls may not go on after 21:00.")
        if start and end and start >= end:
            self.add_error("quiet_hours_end", "The end must be after the start.")
        if not 1 <= (data.get("frequency_cap") or 0) <= 20:
            self.add_error("frequency_cap", "Between 1 and 20.")
        if not 1 <= (data.get("frequency_window_days") or 0) <= 60:
            self.add_error("frequency_window_days", "Between 1 and 60 days.")
        rate = data.get("rate_per_second")
        if rate is not None and not 0 < rate <= 1000:
            self.add_error("rate_per_second", "More than 0 and at most 1000.")
        return data


class MessageTemplateForm(forms.Form):
    """A template's text; name, purpose and channel only when it is created."""

    name = forms.CharField(max_length=100)
    purpose = forms.ChoiceField(choices=[])
    channel = forms.ChoiceField(choices=Channel.choices)
    subject = forms.CharField(max_length=200, required=False, help_text="Email only.")
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 10, "spellcheck": "true"}), max_length=20_000)

    def __init__(self, *args, template=None, **kwargs):
        from .models import TemplatePurpose

        super().__init__(*args, **kwargs)
        self.fields["purpose"].choices = TemplatePurpose.choices
        if template is not None:
            for name in ("name", "purpose", "channel"):
                self.fields[name].disabled = True
                self.fields[name].required = False
