import functools
import logging

from django import forms
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm, SetPasswordForm
from django.core.mail import EmailMultiAlternatives

from config.plain_text import render_plain_text

from .addons import ADDONS
from .models import Role


class EmailAuthenticationForm(AuthenticationForm):
    """Sign-in by email and password. Failures are counted, and locks applied, by django-axes
    (practices.sign_in_limits)."""

    username = forms.EmailField(label="Email", widget=forms.EmailInput(
        attrs={"autofocus": True, "autocomplete": "email"}))
    error_messages = {
        "invalid_login": "That email and password don't match an account. Check both and try again.",
        "inactive": "This account is inactive.",
    }

    def clean_username(self):
        return self.cleaned_data["username"].strip().lower()


logger = logging.getLogger(__name__)


class PasswordResetRequestForm(PasswordResetForm):
    """Django's reset form, its email rendered as plain text (an address with & or ' reads as
    typed) and marked as an account email (the dev outbox shows it to its addressee alone)."""

    def send_mail(self, subject_template_name, email_template_name, context, from_email,
                  to_email, html_email_template_name=None):
        subject = "".join(render_plain_text(subject_template_name, context).splitlines())
        message = EmailMultiAlternatives(subject, render_plain_text(email_template_name, context),
                                         from_email, [to_email])
        message.metadata = {"kind": "password_reset"}
        try:
            message.send()
        except Exception:
            logger.exception("Failed to send password reset email to user %s", context["user"].pk)


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


class InvitationPasswordForm(SetPasswordForm):
    """A new team member's name and first password, checked by the password validators
    against an unsaved user with the invited address."""

    full_name = forms.CharField(label="Your name", max_length=150, required=False)
    field_order = ["full_name", "new_password1", "new_password2"]


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
        for addon in ADDONS:
            self.fields[addon.field] = forms.BooleanField(required=False, label=addon.label,
                                                          help_text=addon.description)


@functools.cache
def _time_zone_choices() -> list[tuple[str, str]]:
    # available_timezones() walks the zone files on disk (about 75 ms): once per process.
    import zoneinfo

    zones = sorted(z for z in zoneinfo.available_timezones() if "/" in z
                   and not z.startswith(("Etc/", "SystemV/")))
    return [(z, z.replace("_", " ")) for z in zones]
