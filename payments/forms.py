import re
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django import forms
from django.core.validators import RegexValidator
from django.utils import timezone

from config.keyset import cursor_read
from notifications.models import MessageTemplate

from .checkout import AmountChoice
from .models import Alert, AlertPreference, EventType, LinkChannel, LinkSource, PaymentSettings, PaymentStatus
from .selectors import PaymentFilters


class AlertPreferenceForm(forms.Form):
    """One alert's switch and delivery. An unchecked switch is absent from the POST: off."""

    alert = forms.ChoiceField(choices=Alert.choices)
    enabled = forms.BooleanField(required=False)
    delivery = forms.ChoiceField(choices=AlertPreference.Delivery.choices,
                                 initial=AlertPreference.Delivery.INSTANT)


# --- QuickPay page (public) ---

PLAIN_TEXT = RegexValidator(r"^[^\x00-\x1f\x7f]*$", "Remove the control characters.")


class AmountForm(forms.Form):
    """What the payer chooses on the QuickPay page; the amount rules are in checkout.amount_choose."""

    choice = forms.ChoiceField(choices=[(c.value, c.value) for c in AmountChoice], widget=forms.RadioSelect,
                               error_messages={"required": "Choose how much to pay.",
                                               "invalid_choice": "Choose how much to pay."})
    other_amount = forms.CharField(required=False, max_length=20, label="Another amount",
                                   widget=forms.TextInput(attrs={"inputmode": "decimal",
                                                                 "autocomplete": "transaction-amount"}))
    payer_email = forms.EmailField(required=False, max_length=254, label="Email for your receipt (optional)",
                                   widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    attempt = forms.RegexField(regex=r"^[A-Za-z0-9_-]{16,64}\Z", widget=forms.HiddenInput,
                               error_messages={"invalid": "This form has expired; choose the amount again.",
                                               "required": "This form has expired; choose the amount again."})

    def clean_other_amount(self) -> Decimal | None:
        raw = self.cleaned_data["other_amount"].strip().replace("$", "").replace(",", "").strip()
        if not raw:
            return None
        if not re.fullmatch(r"[0-9]{1,10}(\.[0-9]{1,2})?|\.[0-9]{1,2}", raw):
            raise forms.ValidationError("Enter an amount in dollars and cents, like 25 or 25.50.")
        return Decimal(raw)

    def clean(self):
        data = super().clean()
        # An amount typed beside another choice is never silently ignored: the payer says which.
        if data.get("other_amount") is not None and data.get("choice") not in (None, AmountChoice.OTHER):
            self.add_error("other_amount", "To pay this amount, choose “Another amount” (or clear the box).")
        return data


class DateOfBirthForm(forms.Form):
    date_of_birth = forms.DateField(
        label="Date of birth of the account holder", input_formats=["%Y-%m-%d", "%m/%d/%Y"],
        widget=forms.DateInput(attrs={"type": "date", "autocomplete": "bday"}),
        error_messages={"required": "Enter the date of birth.",
                        "invalid": "Enter the date of birth as month/day/year."})

    def clean_date_of_birth(self):
        value = self.cleaned_data["date_of_birth"]
        if not date(1900, 1, 1) <= value <= timezone.localdate():
            raise forms.ValidationError("Enter a date of birth between 1900 and today.")
        return value


class SandboxCardForm(forms.Form):
    """The sandbox checkout's card form: only Stripe's published test numbers mean anything."""

    email = forms.EmailField(required=False, max_length=254, label="Email for the receipt")
    card_number = forms.RegexField(regex=r"^[0-9 ]{12,23}\Z", label="Card number", max_length=23,
                                   widget=forms.TextInput(attrs={"inputmode": "numeric",
                                                                 "autocomplete": "off"}),
                                   error_messages={"invalid": "Enter the card number (digits only)."})
    expiry = forms.RegexField(regex=r"^(0[1-9]|1[0-2]) ?/ ?[0-9]{2}\Z", label="Expiry (MM/YY)", max_length=7,
                              widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off",
                                                            "placeholder": "MM/YY"}),
                              error_messages={"invalid": "Enter the expiry as MM/YY."})
    cvc = forms.RegexField(regex=r"^[0-9]{3,4}\Z", label="CVC", max_length=4,
                           widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
                           error_messages={"invalid": "Enter the 3 or 4 digits on the back of the card."})

    def clean_card_number(self) -> str:
        return self.cleaned_data["card_number"].replace(" ", "")

    def clean_expiry(self) -> str:
        month, year = (int(part) for part in self.cleaned_data["expiry"].replace(" ", "").split("/"))
        today = timezone.localdate()
        if (2000 + year, month) < (today.year, today.month):
            raise forms.ValidationError("This card has expired.")
        return f"{month:02d}/{year:02d}"


# --- staff screens ---


class PaymentSettingsForm(forms.ModelForm):
    class Meta:
        model = PaymentSettings
        fields = ["stripe_account_id", "link_expiry_days", "require_date_of_birth"]
        widgets = {"stripe_account_id": forms.TextInput(attrs={"placeholder": "acct_...",
                                                               "autocomplete": "off"})}

    def clean_stripe_account_id(self) -> str:
        return self.cleaned_data["stripe_account_id"].strip()


class ApplicationFilterForm(forms.Form):
    ALERTED = {"24h": timedelta(hours=24), "7d": timedelta(days=7)}

    state = forms.ChoiceField(required=False, choices=[("", "Any state"), *EventType.choices])
    alerted = forms.ChoiceField(required=False, label="Alerts", choices=[
        ("", "Any time"), ("24h", "Alerted in the last 24 hours"), ("7d", "Alerted in the last 7 days")])

    def alerted_since(self, now):
        wait = self.ALERTED.get(self.cleaned_data.get("alerted") or "")
        return now - wait if wait else None


class PaymentRequestSettingsForm(forms.ModelForm):
    """The bulk payment request part of the payment settings (saved by its own button): who is
    on the list, how the messages go, and which payment-request templates they use."""

    SUBMIT = "save_requests"
    TEMPLATE_FIELDS = {"request_sms_template": "sms", "request_email_template": "email",
                       "reminder_sms_template": "sms", "reminder_email_template": "email"}

    class Meta:
        model = PaymentSettings
        fields = ["request_minimum", "request_aging", "request_include_claims", "request_reminders",
                  "request_reminder_days", "request_list_hour", "request_hourly_cap", "request_sms_template",
                  "request_email_template", "reminder_sms_template", "reminder_email_template"]

    def __init__(self, *args, practice, **kwargs):
        super().__init__(*args, **kwargs)
        for name, channel in self.TEMPLATE_FIELDS.items():
            field = self.fields[name]
            field.queryset = MessageTemplate.objects.filter(practice=practice, purpose="payment_request",
                                                            channel=channel).order_by("name", "id")
            field.required, field.empty_label = True, None
            field.error_messages["invalid_choice"] = "Choose one of this office's payment-request templates."


class PaymentFilterForm(forms.Form):
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *PaymentStatus.choices])
    source = forms.ChoiceField(required=False, choices=[("", "Any source"), *LinkSource.choices])
    channel = forms.ChoiceField(required=False, choices=[("", "Any channel"), *LinkChannel.choices])
    date_from = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))
    after = forms.CharField(required=False, max_length=60, widget=forms.HiddenInput,
                            validators=[PLAIN_TEXT])

    def clean_after(self):
        value = self.cleaned_data["after"]
        if value and cursor_read(value) is None:
            raise forms.ValidationError("That page link is not valid; start from the first page.")
        return value

    def clean(self):
        data = super().clean()
        for name in ("date_from", "date_to"):
            if data.get(name) and not date(2000, 1, 1) <= data[name] <= date(9998, 12, 31):
                self.add_error(name, "Enter a date between 2000 and 9998.")
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", "The end date is before the start date.")
        return data

    def filters(self, tz) -> PaymentFilters:
        d = self.cleaned_data
        start = (timezone.make_aware(datetime.combine(d["date_from"], time()), tz)
                 if d.get("date_from") else None)
        end = (timezone.make_aware(datetime.combine(d["date_to"] + timedelta(days=1), time()), tz)
               if d.get("date_to") else None)
        return PaymentFilters(status=d.get("status") or "", source=d.get("source") or "",
                              channel=d.get("channel") or "", created_from=start, created_to=end)
