"""The undeliverable list's actions: a mobile number added by staff and the request sent to it
at once, a row taken off the list, a remembered number forgotten.

The PMS stays the source of contact details. The added number is kept (`ContactFix`) and used
for the guarantor's requests only until the PMS sends a different number than it had then;
until the PMS has it, the fix is listed so staff remember to update the PMS.
"""

from datetime import timedelta

import phonenumbers
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from notifications.models import OptOut, ReasonCode
from patients.models import Patient
from practices.services import audit_record

from ..models import CampaignState, ContactFix, PaymentRequestCampaign
from .campaigns import ADDON_OFF, message_keys, messages_queue, messages_stop, moments_plan, settings_locked
from .contact import Contact, Person
from .spread import Spread
from .texts import request_templates_ensure

PHONE_REGION = "US"
_MOBILE_TYPES = (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)


def mobile_number_clean(value: str) -> str:
    """A mobile number typed by staff, in E.164 (+13125550142); ValidationError saying what is
    wrong otherwise."""
    value = (value or "").strip()
    if not value:
        raise ValidationError("Enter the mobile number.")
    if len(value) > 30 or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValidationError("Enter a phone number, like (312) 555-0142.")
    try:
        parsed = phonenumbers.parse(value, PHONE_REGION)
    except phonenumbers.NumberParseException:
        raise ValidationError("Enter a phone number, like (312) 555-0142.") from None
    if not phonenumbers.is_valid_number(parsed):
        raise ValidationError("That is not a valid phone number: check the area code and the digits.")
    kind = phonenumbers.number_type(parsed)
    if kind == phonenumbers.PhoneNumberType.FIXED_LINE:
        raise ValidationError("That is a landline: texts cannot reach it. Enter a mobile number.")
    if kind not in _MOBILE_TYPES:
        raise ValidationError("That is not a mobile number (toll-free, pager or similar). "
                              "Enter a mobile number.")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def campaign_resend(*, practice, campaign: PaymentRequestCampaign, actor, mobile: str):
    """Send the request again, to `mobile` (E.164), at once (the hourly cap permitting), with
    the practice's reminders after it; remember the number for the guarantor. Returns when the
    request is due."""
    if not practice.addon_online_payments:
        raise ValidationError(ADDON_OFF)
    with transaction.atomic():
        payment_settings = settings_locked(practice)
        campaign = PaymentRequestCampaign.objects.select_for_update().get(pk=campaign.pk, practice=practice)
        if not campaign.resendable:
            raise ValidationError("This request cannot be sent again: " + (
                "the guarantor opted out of texts." if campaign.state == CampaignState.UNDELIVERABLE
                else "it is no longer on the undeliverable list."))
        if OptOut.objects.filter(practice=practice, channel="sms", address=mobile).exists():
            raise ValidationError({"mobile": "This number opted out of texts from the office "
                                             "(replied STOP)."})
        guarantor = Patient.objects.get(pk=campaign.guarantor_id, practice=practice)
        now = timezone.now()
        spread = Spread(practice=practice, cap=payment_settings.request_hourly_cap, now=now)
        reminders, days = payment_settings.request_reminders, payment_settings.request_reminder_days
        times = moments_plan(spread, reminders, days)
        request_at = times[0]
        campaign.attempt += 1
        campaign.state, campaign.state_at = CampaignState.ACTIVE, now
        campaign.channel, campaign.address = "sms", mobile
        campaign.fixed_number, campaign.reminders, campaign.request_at = True, reminders, request_at
        campaign.ends_at = times[-1] + timedelta(days=days)
        campaign.undeliverable_reason = campaign.undeliverable_detail = ""
        campaign.save()
        ContactFix.objects.update_or_create(
            guarantor_id=guarantor.pk, defaults={"practice": practice, "mobile_phone": mobile,
                                                 "pms_mobile": guarantor.mobile_phone,
                                                 "created_by": actor if actor and actor.pk else None})
        person = Person(guarantor.pk, guarantor.first_name, guarantor.last_name, guarantor.time_zone,
                        Contact("sms", mobile, True, fixed=True))
        messages_queue(practice=practice, payment_settings=request_templates_ensure(practice),
                       planned=[(campaign, person, times)])
        spread.save()
        audit_record(practice=practice, actor=actor, action="payment_requests.resent",
                     target=f"payment request {campaign.pk}", attempt=campaign.attempt)
    return request_at


@transaction.atomic
def campaign_dismiss(*, practice, campaign: PaymentRequestCampaign, actor) -> bool:
    """Take an undeliverable request off the list (the campaign finishes)."""
    moved = PaymentRequestCampaign.objects.filter(pk=campaign.pk, practice=practice,
                                                  state=CampaignState.UNDELIVERABLE).update(
        state=CampaignState.FINISHED, state_at=timezone.now())
    if moved:
        keys = message_keys([(campaign.pk, campaign.attempt, campaign.reminders)])
        messages_stop(practice_id=practice.pk, keys=keys, reason_code=ReasonCode.CANCELLED_BY_STAFF)
        audit_record(practice=practice, actor=actor, action="payment_requests.dismissed",
                     target=f"payment request {campaign.pk}")
    return bool(moved)


@transaction.atomic
def contact_fix_forget(*, practice, fix: ContactFix, actor) -> None:
    ContactFix.objects.filter(pk=fix.pk, practice=practice).delete()
    audit_record(practice=practice, actor=actor, action="payment_requests.number_forgotten",
                 target=f"guarantor {fix.guarantor_id}")
