"""The undeliverable list: why each request could not be delivered (nothing to send to, a
provider's permanent error, an opted-out number), the quick add of a mobile number and the resend,
and the number remembered until the PMS sends a different one."""

import pytest
from django.test import Client
from django.urls import reverse

from notifications.dispatch import drain_inline
from notifications.models import Notification, OptOut
from patients.models import Patient
from patients.services import patients_bulk_upsert
from payments.bulk_requests.contact import people_for
from payments.bulk_requests.selectors import fixes_not_taken
from payments.models import CampaignState, ContactFix, PaymentRequestCampaign, QuickPayLink
from practices.due_work import due_work_run
from practices.models import AuditEvent
from tests.notifications.conftest import fake_twilio  # noqa: F401 - a fixture

from .conftest import make_guarantor
from .test_send import _record


def _campaign(guarantor) -> PaymentRequestCampaign:
    return PaymentRequestCampaign.objects.get(guarantor=guarantor)


def _statuses(campaign):
    keys = [campaign.message_key(step) for step in range(campaign.reminders + 1)]
    return [(n.status, n.reason_code) for n in Notification.objects.filter(idempotency_key__in=keys)
            .order_by("idempotency_key")]


@pytest.mark.parametrize(("kwargs", "reason"), [
    ({"mobile": "", "email": ""}, "no_contact"),
    ({"consent_sms": False, "email": "x@example.test", "consent_email": False}, "no_consent"),
])
def test_nothing_to_send_to_is_undeliverable_at_once(desk, kwargs, reason):
    guarantor = make_guarantor(desk.practice, "G-1", **kwargs)
    desk.send()
    campaign = _campaign(guarantor)
    assert (campaign.state, campaign.undeliverable_reason, campaign.resendable) == ("undeliverable", reason,
                                                                                    True)
    assert not Notification.objects.exists()


def test_an_opted_out_number_goes_by_email_when_it_can_and_is_not_resendable_otherwise(desk):
    by_email = make_guarantor(desk.practice, "G-1", email="ana@example.test", consent_email=True)
    stuck = make_guarantor(desk.practice, "G-2", mobile="+13125550143")
    for number in ("+13125550142", "+13125550143"):
        OptOut.objects.create(practice=desk.practice, channel="sms", address=number, source="stop")
    desk.send()
    assert _campaign(by_email).channel == "email"
    campaign = _campaign(stuck)
    assert (campaign.undeliverable_reason, campaign.resendable) == ("opted_out", False)


@pytest.mark.parametrize(("code", "reason"), [(21211, "invalid_number"), (21614, "not_mobile"),
                                              (30006, "not_mobile"), (21610, "opted_out")])
def test_a_permanent_provider_error_lands_on_the_list_with_its_reason_and_stops_the_reminders(
        desk, fake_twilio, code, reason):  # noqa: F811 - the fixture
    guarantor = make_guarantor(desk.practice, "G-1")
    fine = make_guarantor(desk.practice, "G-2", mobile="+13125550143")
    fake_twilio.errors_for["+13125550142"] = (400, code)
    desk.send()
    drain_inline()
    due_work_run()
    campaign = _campaign(guarantor)
    assert (campaign.state, campaign.undeliverable_reason) == ("undeliverable", reason)
    assert str(code) in campaign.undeliverable_detail
    assert _statuses(campaign) == [("undeliverable_permanent", ""), ("will_not_send", "superseded"),
                                   ("will_not_send", "superseded")]
    assert campaign.resendable is (reason != "opted_out")
    assert _campaign(fine).state == "active"  # its request is due 14.4 s later (the hourly cap's spacing)


def test_a_stop_after_the_send_was_queued_is_shown_as_opted_out(desk):
    guarantor = make_guarantor(desk.practice, "G-1")
    desk.send()
    OptOut.objects.create(practice=desk.practice, channel="sms", address="+13125550142", source="stop")
    drain_inline()
    due_work_run()
    campaign = _campaign(guarantor)
    assert (campaign.state, campaign.undeliverable_reason, campaign.resendable) == ("undeliverable",
                                                                                    "opted_out", False)


def test_the_undeliverable_screen_says_why_and_the_fix_resends_at_once(desk, client_of, world):
    guarantor = make_guarantor(desk.practice, "G-1", first="Ana", mobile="", email="")
    desk.send()
    campaign = _campaign(guarantor)
    client = client_of(world.staff_a)
    page = client.get(reverse("payment_requests_undeliverable"))
    assert b"No mobile number and no email" in page.content
    fix_url = reverse("payment_request_fix", args=[campaign.pk])
    assert fix_url.encode() in page.content
    response = client.post(fix_url, {"mobile": "(312) 555-0199", "consent": "on"})
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert (campaign.state, campaign.attempt, campaign.address, campaign.fixed_number) == (
        "active", 2, "+13125550199", True)
    messages = list(Notification.objects.filter(idempotency_key__startswith=f"payreq:{campaign.pk}:2:")
                    .order_by("idempotency_key"))
    assert [(n.address, n.channel) for n in messages] == [("+13125550199", "sms")] * 3
    assert QuickPayLink.objects.filter(notification_key=messages[0].idempotency_key,
                                       source="payment_request").exists()
    drain_inline()
    messages[0].refresh_from_db()
    assert messages[0].status == "sent"
    followed = client.get(reverse("payment_requests_undeliverable"))
    assert b"update the number in your practice-management system" in followed.content.lower() or \
        b"Update the mobile number" in followed.content
    assert b"(312) 555-0199" in followed.content  # the fix waits for the PMS, listed
    assert AuditEvent.objects.filter(action="payment_requests.resent", actor=world.staff_a).exists()
    # Nothing left to fix: the row is gone.
    assert client.get(fix_url).status_code == 404


@pytest.mark.parametrize(("value", "message"), [
    ("", "Enter the mobile number."),
    ("abc", "Enter a phone number"),
    ("+1 312 555 01", "not a valid phone number"),
    ("+44 20 7946 0958", "landline"),  # a London landline
    ("+1 800 555 0199", "not a mobile number"),  # toll-free
    ("18446744073709551616", "Enter a phone number"),
    ("+1312555\x000142", "Null characters are not allowed"),
    ("+1312555\x070142", "Enter a phone number"),
    ("1" * 5000, "Ensure this value has at most 30 characters"),
])
def test_the_quick_add_refuses_what_is_not_a_mobile_number_naming_the_field(desk, client_of, world, value,
                                                                            message):
    guarantor = make_guarantor(desk.practice, "G-1", mobile="", email="")
    desk.send()
    campaign = _campaign(guarantor)
    response = client_of(world.staff_a).post(reverse("payment_request_fix", args=[campaign.pk]),
                                             {"mobile": value, "consent": "on"})
    assert response.status_code == 400
    assert any(message in error for error in response.context["form"].errors["mobile"])
    campaign.refresh_from_db()
    assert campaign.state == "undeliverable" and not ContactFix.objects.exists()


def test_the_quick_add_needs_the_guarantors_agreement_and_refuses_an_opted_out_number(desk, client_of, world):
    guarantor = make_guarantor(desk.practice, "G-1", mobile="", email="")
    desk.send()
    url = reverse("payment_request_fix", args=[_campaign(guarantor).pk])
    client = client_of(world.staff_a)
    assert "consent" in client.post(url, {"mobile": "(312) 555-0199"}).context["form"].errors
    OptOut.objects.create(practice=desk.practice, channel="sms", address="+13125550199", source="stop")
    refused = client.post(url, {"mobile": "(312) 555-0199", "consent": "on"})
    assert "opted out" in str(refused.context["form"].errors["mobile"])
    assert _campaign(guarantor).state == "undeliverable"


def test_an_opted_out_request_cannot_be_resent_but_can_be_removed(desk, client_of, world):
    guarantor = make_guarantor(desk.practice, "G-1")
    OptOut.objects.create(practice=desk.practice, channel="sms", address="+13125550142", source="stop")
    desk.send()
    campaign = _campaign(guarantor)
    client = client_of(world.staff_a)
    page = client.get(reverse("payment_requests_undeliverable"))
    assert b"Opted out of texts" in page.content and b"not resendable" in page.content
    response = client.post(reverse("payment_request_fix", args=[campaign.pk]),
                           {"mobile": "(312) 555-0199", "consent": "on"})
    assert response.status_code == 200 and _campaign(guarantor).state == "undeliverable"
    assert client.post(reverse("payment_request_dismiss", args=[campaign.pk])).status_code == 302
    assert _campaign(guarantor).state == CampaignState.FINISHED


def test_the_fixed_number_is_used_until_the_pms_sends_a_different_one(desk, client_of, world):
    patients_bulk_upsert(practice=desk.practice, items=[_record("G-1", "100.00", mobile="")])
    guarantor = Patient.objects.get(external_id="G-1")
    desk.send()
    campaign = _campaign(guarantor)
    client_of(world.staff_a).post(reverse("payment_request_fix", args=[campaign.pk]),
                                  {"mobile": "(312) 555-0199", "consent": "on"})
    contact = people_for(practice=desk.practice, guarantor_ids=[guarantor.pk])[guarantor.pk].contact
    assert (contact.channel, contact.address, contact.fixed) == ("sms", "+13125550199", True)
    assert [f.guarantor_id for f in fixes_not_taken(practice=desk.practice)] == [guarantor.pk]
    # The PMS takes the number: the fix is no longer needed, nor listed.
    patients_bulk_upsert(practice=desk.practice, items=[_record("G-1", "100.00", mobile="(312) 555-0199")])
    assert fixes_not_taken(practice=desk.practice) == []
    # The PMS sends yet another number: that one is used, not the fix.
    patients_bulk_upsert(practice=desk.practice, items=[_record("G-1", "100.00", mobile="(312) 555-0177")])
    contact = people_for(practice=desk.practice, guarantor_ids=[guarantor.pk])[guarantor.pk].contact
    assert (contact.address, contact.fixed) == ("+13125550177", False)


def test_forgetting_a_fixed_number(desk, client_of, world):
    guarantor = make_guarantor(desk.practice, "G-1", mobile="", email="")
    desk.send()
    client = client_of(world.staff_a)
    client.post(reverse("payment_request_fix", args=[_campaign(guarantor).pk]), {"mobile": "(312) 555-0199",
                                                                                   "consent": "on"})
    fix = ContactFix.objects.get()
    world.practice_c.addon_online_payments = True
    world.practice_c.save()
    outsider = Client()
    outsider.force_login(world.staff_c)
    assert outsider.post(reverse("payment_request_fix_forget", args=[fix.pk])).status_code == 404
    assert ContactFix.objects.exists()
    assert client.post(reverse("payment_request_fix_forget", args=[fix.pk])).status_code == 302
    assert not ContactFix.objects.exists()
