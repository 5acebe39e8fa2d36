from datetime import date, datetime

from django import forms

from notifications.models import Channel, MessageTemplate, TemplatePurpose

from .models import DEFAULT_SEND_HOUR, MAX_LEVEL, Anchor, StatementProfile

_TIME = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")


class BatchUploadForm(forms.Form):
    batch_id = forms.CharField(label="Batch id", max_length=64,
                               help_text="Your practice-management system's name for this run, "
                                         "e.g. 2026-11-A.")
    profile = forms.ModelChoiceField(queryset=StatementProfile.objects.none(), empty_label=None,
                                     label="Statement profile")
    file = forms.FileField(label="CSV file", allow_empty_file=True,
                           help_text="UTF-8 CSV with the template's header row.")

    def __init__(self, *args, practice, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["profile"].queryset = StatementProfile.objects.filter(practice=practice).order_by(
            "-is_default", "name")

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size == 0:
            raise forms.ValidationError("The file is empty (0 bytes). Export the statements again, or "
                                        "start from the template.")
        return upload


class ProfileCreateForm(forms.Form):
    name = forms.CharField(max_length=100)
    slug = forms.SlugField(max_length=60, required=False,
                           help_text="How the API names it (\"profile\"); made from the name when empty.")
    send_hour = forms.TimeField(initial=DEFAULT_SEND_HOUR, widget=_TIME,
                                help_text="The recipient's local time, unless a step names its own.")
    copy_from = forms.ModelChoiceField(queryset=StatementProfile.objects.none(), required=False,
                                       label="Start from the steps of", empty_label="No steps")

    def __init__(self, *args, practice, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["copy_from"].queryset = StatementProfile.objects.filter(practice=practice)


class ProfileForm(forms.Form):
    name = forms.CharField(max_length=100)
    send_hour = forms.TimeField(widget=_TIME, help_text="The recipient's local time.")
    active = forms.BooleanField(required=False, help_text="Batches for an inactive profile queue nothing.")


class StepForm(forms.Form):
    level = forms.IntegerField(min_value=1, max_value=MAX_LEVEL, initial=1, label="Dunning level",
                               help_text=f"1 to {MAX_LEVEL}; the highest level you define serves every "
                                         "higher count.")
    channel = forms.ChoiceField(choices=Channel.choices)
    anchor = forms.ChoiceField(choices=Anchor.choices, label="Count the days")
    offset_days = forms.IntegerField(min_value=-30, max_value=120, initial=0, label="Days",
                                     help_text="0 to 120 after the statement date; -30 to 120 around the "
                                               "due date (negative: before).")
    at_time = forms.TimeField(required=False, widget=_TIME, label="At",
                              help_text="Empty: the profile's send hour.")
    template = forms.ModelChoiceField(queryset=MessageTemplate.objects.none(), empty_label=None)

    def __init__(self, *args, practice, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["template"].queryset = MessageTemplate.objects.filter(
            practice=practice, purpose=TemplatePurpose.BALANCE).order_by("channel", "name")
        self.fields["template"].label_from_instance = lambda t: f"{t.name} ({t.get_channel_display()}, " \
                                                                f"v{t.current_version})"


class GuarantorPickForm(forms.Form):
    guarantor = forms.CharField(label="Guarantor's PMS id", max_length=64, required=False,
                                help_text="Empty: sample values.")

    def clean_guarantor(self):
        value = self.cleaned_data["guarantor"].strip()
        if any(ord(c) < 32 for c in value):
            raise forms.ValidationError("That is not a PMS id.")
        return value


class TestSendForm(forms.Form):
    phone = forms.CharField(label="Your mobile number", max_length=32, required=False,
                            help_text="For a text or a call; an email goes to your sign-in address.")

    def clean_phone(self):
        from patients.records import FieldInvalid, clean_phone

        try:
            return clean_phone(self.cleaned_data["phone"])
        except FieldInvalid as exc:
            raise forms.ValidationError(f"Enter your mobile number, e.g. (312) 555-0142 ({exc}).") from None


class BatchSinceForm(forms.Form):
    """The batch list from an office day on (the dashboard's "batched this week")."""

    since = forms.DateField(required=False, label="Received since",
                            widget=forms.DateInput(attrs={"type": "date"}))

    def clean_since(self):
        value = self.cleaned_data["since"]
        if value and not date(2000, 1, 1) <= value <= date(2999, 12, 31):
            raise forms.ValidationError("Enter a date between 2000 and 2999.")
        return value

    def start(self, tz) -> datetime | None:
        since = self.cleaned_data.get("since") if self.is_valid() else None
        return datetime(since.year, since.month, since.day, tzinfo=tz) if since else None
