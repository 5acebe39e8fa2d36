"""Walk every URL pattern of the portal.

The staff member of practice C must never get a 200 on an office-A object, and an anonymous
visitor must be sent to sign in. A new URL with a new kind of argument fails here until the
argument is added to OBJECT_ARGS, so no screen escapes the check.
"""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from practices.models import Membership
from practices.services import api_key_create, team_invite

# URL names that are public by design (sign-in pages, the API with its own key auth).
PUBLIC = {
    "login", "logout", "password_reset", "password_reset_done", "password_reset_confirm",
    "password_reset_complete",
    "twilio_status", "twilio_inbound", "email_unsubscribe",  # signed by the provider / the link
    "invitation_open", "invitation_accept",  # the emailed link's token
    "stripe_webhook", "quickpay", "quickpay_paid", "sandbox_checkout",  # signed / an unguessable token
}
PUBLIC_PREFIXES = ("api-v1:", "anymail:")


def _patterns(resolver=None, prefix=""):
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            namespace = f"{prefix}{entry.namespace}:" if entry.namespace else prefix
            yield from _patterns(entry, namespace)
        elif isinstance(entry, URLPattern) and entry.name:
            yield prefix + entry.name, entry


def _object_args(world):
    key, _ = api_key_create(practice=world.practice_a, label="a")
    from notifications.models import SandboxMessage
    from payments.models import Application

    outbox = SandboxMessage.objects.create(practice=world.practice_a, channel="email",
                                           to="x@example.test", subject="A's message")
    from notifications.services import Recipient, notification_schedule

    notification = notification_schedule(
        practice=world.practice_a, recipient=Recipient(kind="patient", id=1, name="A's patient"),
        channel="email", address="a-patient@example.test", kind="test", body="A's message",
        idempotency_key="url-walk")
    application = Application.objects.create(
        practice=world.practice_a, external_id="app-a", patient_external_id="p-a",
        patient_first_name="Ann", patient_last_name="Lakeside", state="started", state_at=key.created_at)
    from patients.models import Patient, PatientImport

    patient = Patient.objects.create(practice=world.practice_a, external_id="A-1", first_name="Ann",
                                     last_name="Lakeside")
    patient.guarantor = patient
    patient.save()
    patient_import = PatientImport.objects.create(practice=world.practice_a, file="patient-imports/a.csv",
                                                  original_name="a.csv")
    from payments.quickpay import LinkRequest, quickpay_links_mint

    [link_url] = quickpay_links_mint(practice=world.practice_a, items=[LinkRequest(
        guarantor_id=patient.pk, notification_key="url-walk", source="manual", channel="qr")])
    from payments.quickpay import quickpay_link_find
    from payments.models import ContactFix, PaymentRequestCampaign

    campaign = PaymentRequestCampaign.objects.create(
        practice=world.practice_a, guarantor=patient, started_at=key.created_at, started_on=key.created_at.date(),
        state="undeliverable", state_at=key.created_at, undeliverable_reason="no_contact")
    fix = ContactFix.objects.create(practice=world.practice_a, guarantor=patient, mobile_phone="+13125550199")
    return {
        "notification_id": notification.pk,
        "application_id": application.pk,
        "member_id": Membership.objects.get(practice=world.practice_a, user=world.staff_a).pk,
        "api_key_id": key.pk,
        "message_id": outbox.pk,
        "patient_id": patient.pk,
        "guarantor_id": patient.pk,
        "import_id": patient_import.pk,
        "invitation_id": team_invite(practice=world.practice_a, email="new@example.test",
                                     role="staff", actor=world.admin_ab).pk,
        "link_id": quickpay_link_find(token=link_url.rsplit("/", 1)[1]).pk,
        "campaign_id": campaign.pk,
        "fix_id": fix.pk,
    }


def _portal_urls(world):
    args = _object_args(world)
    urls = []
    for name, pattern in _patterns():
        if name in PUBLIC or name.startswith(PUBLIC_PREFIXES):
            continue
        params = list(pattern.pattern.converters)
        missing = [p for p in params if p not in args]
        assert not missing, f"URL {name!r} takes {missing}: add them to OBJECT_ARGS in this test"
        urls.append((name, reverse(name, kwargs={p: args[p] for p in params})))
    return urls


def test_every_portal_url_is_found(world):
    names = {name for name, _ in _portal_urls(world)}
    assert {"dashboard", "team", "api_keys", "dev_outbox", "team_member_remove"} <= names


def test_anonymous_visitors_are_sent_to_sign_in(client, world):
    for name, url in _portal_urls(world):
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            assert response.status_code == 302, (name, method, response.status_code)
            assert response["Location"].startswith(reverse("login")), (name, method)


@pytest.mark.parametrize("method", ["get", "post"])
def test_practice_c_staff_never_gets_office_a_objects(client_of, world, method):
    client = client_of(world.staff_c)
    for name, url in _portal_urls(world):
        response = getattr(client, method)(url)
        body = response.content.decode(errors="replace")
        has_object_args = bool(list(get_resolver().resolve(url).kwargs))
        if has_object_args:
            assert response.status_code != 200, (name, method)
            assert response.status_code in (302, 403, 404, 405), (name, method, response.status_code)
        assert "Lakeside Dental" not in body, (name, method)
        assert "staff.a@example.test" not in body, (name, method)
    assert Membership.objects.filter(practice=world.practice_a).count() == 2
