import functools

from django import forms
from django.contrib.auth.forms import AuthenticationForm

from . import login_throttle
from .models import Role


class EmailAuthenticationForm(AuthenticationForm):
    """Sign-in by email and password, refusing further tries after repeated failures."""

    username = forms.EmailField(label="Email", widget=forms.EmailInput(
        attrs={"autofocus": True, "autocomplete": "email"}))
    error_messages = {
        "invalid_login": "That email and password don't match an account. Check both and try again.",
        "inactive": "This account is inactive.",
        "locked": "Too many failed sign-in attempts. Wait %(minutes)s minutes, or reset your "
                  "password.",
    }

    def clean_username(self):
        return self.cleaned_data["username"].strip().lower()

    def clean(self):
        email = self.cleaned_data.get("username") or ""
        ip = login_throttle.client_ip(self.request) if self.request else ""
        if login_throttle.is_locked(email=email, client_ip=ip):
            from django.conf import settings

            raise forms.ValidationError(
                self.error_messages["locked"], code="locked",
                params={"minutes": max(1, settings.LOGIN_FAILURE_WINDOW // 60)})
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            login_throttle.record_failure(email=email, client_ip=ip)
            raise
        login_throttle.clear(email=email)
        return cleaned


class OfficeSwitchForm(forms.Form):
    practice = forms.CharField()

    def __init__(self, *args, memberships, **kwargs):
        super().__init__(*args, **kwargs)
        self.memberships = {m.practice.slug: m for m in memberships}

    def clean_practice(self):
        slug = self.cleaned_data["practice"]
        if slug not in self.memberships:
            raise forms.ValidationError("You are not a member of that office.")
        return self.memberships[slug]


class TeamMemberAddForm(forms.Form):
    email = forms.EmailField(label="Email", max_length=254)
    full_name = forms.CharField(label="Name", max_length=150, required=False)
    role = forms.ChoiceField(choices=Role.choices, initial=Role.STAFF)


class RoleChangeForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class ApiKeyCreateForm(forms.Form):
    label = forms.CharField(label="Label", max_length=100, required=False,
                            help_text="Where the key is used, for example 'PMS sync'.")


class PracticeSettingsForm(forms.Form):
    """An office's details and add-on switches, edited by its admins."""

    name = forms.CharField(max_length=200)
    time_zone = forms.ChoiceField(choices=[])
    phone = forms.CharField(max_length=32, required=False,
                            help_text="Shown to patients in messages and HELP replies.")
    address = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    addon_balance_notifications = forms.BooleanField(required=False, label="Balance notifications")
    addon_voice = forms.BooleanField(required=False, label="Voice messages")
    addon_on_demand = forms.BooleanField(required=False, label="On-demand notifications")
    addon_online_payments = forms.BooleanField(required=False, label="Online payments (QuickPay)")

    def clean_phone(self):
        """The office phone is what HELP replies and voicemails give patients: a real number."""
        import phonenumbers

        raw = self.cleaned_data["phone"].strip()
        if not raw:
            return ""
        try:
            number = phonenumbers.parse(raw, "US")
        except phonenumbers.NumberParseException:
            number = None
        if number is None or not phonenumbers.is_valid_number(number):
            raise forms.ValidationError("Enter a phone number, for example (312) 555-0142 or +13125550142.")
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = _time_zone_choices()


@functools.cache
def _time_zone_choices() -> list[tuple[str, str]]:
    # available_timezones() walks the zone files on disk (about 75 ms): once per process.
    import zoneinfo

    zones = sorted(z for z in zoneinfo.available_timezones() if "/" in z
                   and not z.startswith(("Etc/", "SystemV/")))
    return [(z, z.replace("_", " ")) for z in zones]
