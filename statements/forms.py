from datetime import date, datetime

from django import forms
from django.core.exceptions import ValidationError

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


class OnDemandForm(forms.Form):
    """Send balance notification: the guarantor, who to send to, the template and the text.

    The choices follow each other: the guarantor decides who can be sent to, the contact's
    channel which templates are offered. Refreshing the form (htmx, or *Update preview* without
    JavaScript) after another template was chosen puts that template's text in the boxes (`loaded`
    names the template whose text they hold); sending sends the text as it is in the boxes.
    """

    guarantor = forms.ChoiceField(label="Guarantor",
                                  help_text="Whose balance the message is about.")
    send_to = forms.ChoiceField(label="Send to", widget=forms.RadioSelect)
    address = forms.CharField(label="Use another number or email for this send", required=False,
                              max_length=254,
                              help_text="Optional: for this message only; the patient's record is unchanged.")
    template = forms.ChoiceField(label="Template", required=False)
    loaded = forms.CharField(required=False, widget=forms.HiddenInput)
    shown_channel = forms.CharField(required=False, widget=forms.HiddenInput)
    subject = forms.CharField(required=False, max_length=200)
    body = forms.CharField(label="Message", widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "true"}),
                           max_length=20_000)
    send_key = forms.RegexField(regex=r"\A[0-9a-f]{32}\Z", widget=forms.HiddenInput, error_messages={
        "invalid": "This form is out of date: open it again.", "required": "This form is out of date: open "
                                                                           "it again."})

    def __init__(self, data=None, *, practice, patient, guarantors: list, sending: bool = False,
                 hx_url: str = ""):
        from uuid import uuid4

        from practices.templatetags.portal import money

        from .on_demand import balance_total, on_demand_contacts, on_demand_templates

        state = data.copy() if data is not None else {"send_key": uuid4().hex}
        self.guarantor_obj = _pick(guarantors, state.get("guarantor"), lambda g: str(g.pk)) or guarantors[0]
        self.contacts = on_demand_contacts(patient=patient, guarantor=self.guarantor_obj)
        # Unless chosen, the first who agreed to be contacted that way (else the first listed).
        self.contact = _pick(self.contacts, state.get("send_to"), lambda c: c.value) or next(
            (c for c in self.contacts if c.consent), next(iter(self.contacts), None))
        self.channel = self.contact.channel if self.contact else "sms"
        if data is not None and not sending and (state.get("shown_channel") or self.channel) != self.channel:
            state["address"] = ""  # a number typed for a text is no address for an email, and back
        state["shown_channel"] = self.channel
        self.templates = list(on_demand_templates(practice=practice, channel=self.channel))
        first = str(self.templates[0].pk) if self.templates else ""
        if data is None:
            state.update(guarantor=str(self.guarantor_obj.pk), template=first,
                         send_to=self.contact.value if self.contact else "")
        elif not sending and state.get("template") and not _pick(self.templates, state.get("template"),
                                                                    lambda t: str(t.pk)):
            state["template"] = first  # another channel was chosen: its first template
        self.template_obj = _pick(self.templates, state.get("template"), lambda t: str(t.pk))
        if self.template_obj is not None and not sending and (
                data is None or state.get("loaded", "") != str(self.template_obj.pk)):
            self._load(state, self.template_obj)
        if data is None:
            super().__init__(initial=state)
        else:
            super().__init__(state)
        self.fields["guarantor"].choices = [(str(g.pk), f"{g.full_name} · balance {money(balance_total(g))}")
                                            for g in guarantors]
        self.fields["send_to"].choices = [(c.value, c.label) for c in self.contacts]
        self.fields["template"].choices = [(str(t.pk), f"{t.name} (v{t.current_version})")
                                           for t in self.templates] + [("", "None: write the message")]
        if self.channel != "email":
            self.fields["subject"].widget = forms.HiddenInput()
        if hx_url:
            self._htmx(hx_url)

    def _htmx(self, url: str) -> None:
        """As the form changes, htmx posts it back: a choice re-renders the form (other people,
        templates, text), typing only the preview beside it."""
        common = {"hx-post": url, "hx-swap": "outerHTML", "hx-sync": "closest form:replace"}
        for name in ("guarantor", "send_to", "template"):
            self.fields[name].widget.attrs.update(common, **{
                "hx-trigger": "change", "hx-target": "#od-form-body", "hx-select": "#od-form-body"})
        for name in ("address", "subject", "body"):
            self.fields[name].widget.attrs.update(common, **{
                "hx-trigger": "input changed delay:300ms", "hx-target": "#od-live", "hx-select": "#od-live"})

    def clean_address(self):
        from .on_demand import corrected_address

        value = self.cleaned_data["address"].strip()
        if value and self.contact is not None:
            try:
                return corrected_address(self.contact.channel, value)
            except ValidationError as exc:
                raise forms.ValidationError(exc.message_dict["address"]) from None
        return value

    @staticmethod
    def _load(state, template) -> None:
        from notifications.message_templates import message_template_current

        version = message_template_current(template=template)
        state["subject"] = version.subject if version else ""
        state["body"] = version.body if version else ""
        state["loaded"] = str(template.pk)

    def value(self, name: str) -> str:
        """A field's current text (as posted, or its initial value), "" when absent."""
        value = self[name].value()
        return value if isinstance(value, str) else ""


def _pick(items, value, key):
    """The item whose key is `value`, or None."""
    if not isinstance(value, str):
        return None
    return next((item for item in items if key(item) == value), None)


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
