from datetime import date

from django import forms
from django.core.validators import RegexValidator
from django.utils import timezone

from ..models import SnoozeReason
from .selectors import TABS

MAX_ID = 2**63 - 1
MAX_POSITION = 2**31 - 1
PLAIN_TEXT = RegexValidator(r"^[^\x00-\x1f\x7f]*$", "Remove the control characters.")
MAX_IDS = 1000  # a page shows 50; this bounds what one post may name


class IdListField(forms.Field):
    """A list of record ids from checkboxes or hidden inputs: each a whole number that fits a
    64-bit id; anything else names the field."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value):
        if value in (None, "", []):
            return []
        values = value if isinstance(value, list | tuple) else [value]
        if len(values) > MAX_IDS:
            raise forms.ValidationError(f"At most {MAX_IDS} at a time.")
        ids = []
        for item in values:
            text = str(item)
            if not text.isascii() or not text.isdigit() or len(text) > 19 or not 0 < int(text) <= MAX_ID:
                raise forms.ValidationError("That selection is not valid; reload the page.")
            ids.append(int(text))
        return list(dict.fromkeys(ids))


class ListQueryForm(forms.Form):
    """The list's tab and page (GET): numbers and names only, never patient data."""

    tab = forms.ChoiceField(choices=[(t, t) for t in TABS], required=False)
    after = forms.IntegerField(min_value=1, max_value=MAX_POSITION, required=False)

    def values(self) -> tuple[str, int | None]:
        if not self.is_valid():
            return "all", None
        return self.cleaned_data["tab"] or "pending", self.cleaned_data["after"]


class SelectionForm(forms.Form):
    """What the list page posts with every action: the rows it showed and which were ticked."""

    ACTIONS = [("page", "page"), ("all", "all"), ("none", "none")]
    action = forms.ChoiceField(choices=ACTIONS, required=False)
    shown = IdListField(required=False)
    picked = IdListField(required=False)
    tab = forms.ChoiceField(choices=[(t, t) for t in TABS], required=False)
    goto = forms.IntegerField(min_value=1, max_value=MAX_POSITION, required=False)


class SnoozeForm(forms.Form):
    ONE, SELECTION = "one", "selection"
    scope = forms.ChoiceField(choices=[(ONE, ONE), (SELECTION, SELECTION)], initial=ONE,
                              widget=forms.HiddenInput)
    guarantor = forms.IntegerField(min_value=1, max_value=MAX_ID, required=False, widget=forms.HiddenInput)
    mode = forms.ChoiceField(choices=[("date", "Until a date"),
                                      ("claims", "Until the PMS reports the insurance claims settled")],
                             initial="date", widget=forms.RadioSelect, label="Snooze")
    until = forms.DateField(required=False, label="Re-enroll on", input_formats=["%Y-%m-%d"],
                            widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
                            error_messages={"invalid": "Enter the date as YYYY-MM-DD."})
    reason = forms.ChoiceField(choices=[("", "Choose a reason"), *SnoozeReason.choices], label="Reason",
                               error_messages={"required": "Choose a reason from the list.",
                                               "invalid_choice": "Choose a reason from the list."})
    note = forms.CharField(required=False, max_length=200, label="Note (required for Other)",
                           validators=[PLAIN_TEXT])

    def __init__(self, *args, today: date | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today or timezone.localdate()
        self.fields["until"].widget.attrs["min"] = self.today.isoformat()

    def clean(self):
        data = super().clean()
        if data.get("scope") == self.ONE and not data.get("guarantor") and "guarantor" not in self.errors:
            self.add_error("guarantor", "Choose whom to snooze.")
        if data.get("mode") == "date" and not data.get("until") and "until" not in self.errors:
            self.add_error("until", "Choose the day the guarantor comes back on the list.")
        if data.get("mode") == "claims":
            data["until"] = None
        if data.get("reason") == SnoozeReason.OTHER and not (data.get("note") or "").strip() \
                and "note" not in self.errors:
            self.add_error("note", "Say why, for “Other”.")
        return data


class UnsnoozeForm(forms.Form):
    ids = IdListField(required=True, error_messages={"required": "Choose whom to un-snooze."})


class SendForm(forms.Form):
    confirm = forms.BooleanField(required=False)


class ListSearchForm(forms.Form):
    q = forms.CharField(label="Name, phone, email or PMS id", max_length=100, validators=[PLAIN_TEXT],
                        widget=forms.SearchInput(attrs={"placeholder": "Ana Reyes",
                                                        "autocomplete": "off"}),
                        error_messages={"required": "Type a name, phone, email or PMS id."})


class QuickAddForm(forms.Form):
    mobile = forms.CharField(label="Mobile number", max_length=30,
                             widget=forms.TextInput(attrs={"type": "tel", "inputmode": "tel",
                                                           "autocomplete": "off",
                                                           "placeholder": "(312) 555-0142"}),
                             error_messages={"required": "Enter the mobile number."})
    consent = forms.BooleanField(label="The guarantor gave this number and agreed to texts from the office",
                                 error_messages={"required": "Confirm that the guarantor agreed to texts "
                                                             "at this number."})

    def clean_mobile(self) -> str:
        from .fixes import mobile_number_clean

        return mobile_number_clean(self.cleaned_data["mobile"])


class UndeliverableQueryForm(forms.Form):
    after = forms.IntegerField(min_value=1, max_value=MAX_ID, required=False)
