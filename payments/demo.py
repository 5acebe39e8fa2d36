"""Demo data for the Downtown office: payment-plan applications (through the same service as the
API), and a QuickPay link in a demo message."""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from notifications.services import Recipient, notification_schedule
from patients.models import IS_GUARANTOR, Patient
from practices.demo import DemoResult
from practices.models import Practice

from .alerts import alert_timers_fire
from .models import Application, PaymentSettings, QuickPayLink
from .quickpay import LinkRequest, quickpay_links_mint
from .services import application_event_record

# (application, patient external id, first, last, [(event, minutes before now)])
_APPLICATIONS = [
    ("fin-1001", "pms-2041", "Maria", "Garcia", [("started", 3 * 24 * 60), ("completed", 3 * 24 * 60 - 25),
                                                 ("approved", 30 * 60)]),
    ("fin-1002", "pms-2077", "James", "Okafor", [("started", 90), ("declined", 0)]),
    ("fin-1003", "pms-2102", "Priya", "Shah", [("prequalified", 0)]),
    ("fin-1004", "pms-2133", "Tom", "Becker", [("started", 2 * 24 * 60)]),
]


@transaction.atomic
def demo_seed() -> DemoResult:
    practice = Practice.objects.filter(slug="bright-smiles-downtown").first()
    if practice is None or Application.objects.filter(practice=practice).exists():
        return DemoResult(practices=[practice] if practice else [], created=False)
    now = timezone.now()
    for application_id, external_id, first, last, events in _APPLICATIONS:
        for n, (event_type, minutes_ago) in enumerate(events):
            application_event_record(
                practice=practice, event_id=f"demo-{application_id}-{n}", application_id=application_id,
                type=event_type, occurred_at=now - timedelta(minutes=minutes_ago),
                patient_external_id=external_id, patient_first_name=first, patient_last_name=last)
    # The demo team finds the alerts in the dev outbox at once, worker or not.
    alert_timers_fire()
    return DemoResult(practices=[practice], created=True,
                      summary=f"Loaded {len(_APPLICATIONS)} payment-plan applications for {practice.name}.")


# --- QuickPay: a demo message whose link opens the page and pays in the sandbox checkout ---

QUICKPAY_DEMO_KEY = "quickpay-demo:{slug}:{channel}"


def _demo_guarantor(practice):
    """A guarantor with a balance to pay, reachable by email and text, not in collections."""
    return (Patient.objects.filter(IS_GUARANTOR, practice=practice, consent_email=True, consent_sms=True,
                                   balance__total__gt=100, balance__amount_due__gt=0,
                                   balance__in_collections=False)
            .exclude(email="").exclude(mobile_phone="").order_by("external_id").first())


@transaction.atomic
def quickpay_demo_seed() -> DemoResult:
    """A QuickPay link in a demo email and text to one Downtown guarantor, with a reminder queued
    for later that stops once the balance is paid. The link is printed once, when it is made
    (only its digest is kept); afterwards it is in the Dev outbox."""
    practice = Practice.objects.filter(slug="bright-smiles-downtown").first()
    if practice is None or not Patient.objects.filter(practice=practice).exists():
        return DemoResult(practices=[], created=False)
    PaymentSettings.objects.get_or_create(practice=practice,
                                          defaults={"stripe_account_id": "acct_1DemoBrightSmiles"})
    email_key = QUICKPAY_DEMO_KEY.format(slug=practice.slug, channel="email")
    if QuickPayLink.objects.filter(notification_key=email_key).exists():
        return DemoResult(practices=[practice], created=False,
                          summary="QuickPay demo: the link is in the demo email and text in the Dev outbox.")
    guarantor = _demo_guarantor(practice)
    if guarantor is None:
        return DemoResult(practices=[practice], created=False)
    text_key = QUICKPAY_DEMO_KEY.format(slug=practice.slug, channel="sms")
    email_url, text_url = quickpay_links_mint(practice=practice, items=[
        LinkRequest(guarantor_id=guarantor.pk, notification_key=email_key, source="statement",
                    channel="email", dunning_level=1),
        LinkRequest(guarantor_id=guarantor.pk, notification_key=text_key, source="statement", channel="sms",
                    dunning_level=1)])
    recipient = Recipient(kind="patient", id=guarantor.pk, name=guarantor.full_name)
    balance = guarantor.balance
    notification_schedule(
        practice=practice, recipient=recipient, channel="email", address=guarantor.email,
        kind="balance_dunning", subject=f"Your balance at {practice.name}", idempotency_key=email_key,
        addon="balance_notifications",
        body=f"Hello {guarantor.first_name},\n\nYou have a balance of ${balance.total:,} at {practice.name} "
             f"(${balance.amount_due:,} due). Pay online in a minute:\n{email_url}\n",
        reason="demo statement, level 1", template_name="demo-balance-email", template_version="1")
    notification_schedule(
        practice=practice, recipient=recipient, channel="sms", address=guarantor.mobile_phone,
        kind="balance_dunning", idempotency_key=text_key, addon="balance_notifications",
        body=f"{practice.name}: you have a balance. Pay at {text_url}", reason="demo statement, level 1",
        template_name="demo-balance-sms", template_version="1")
    # The next reminder of the cadence, two weeks out: once the balance is paid it will not send.
    notification_schedule(
        practice=practice, recipient=recipient, channel="email", address=guarantor.email,
        kind="balance_dunning", subject=f"Reminder: your balance at {practice.name}",
        idempotency_key=QUICKPAY_DEMO_KEY.format(slug=practice.slug, channel="email-reminder"),
        body=f"Hello {guarantor.first_name}, a reminder of your balance at {practice.name}.",
        send_at=timezone.now() + timedelta(days=14), addon="balance_notifications",
        reason="demo statement, level 1 reminder", template_name="demo-balance-email", template_version="1")
    return DemoResult(practices=[practice], created=True, summary=(
        f"QuickPay demo: {guarantor.first_name} {guarantor.last_name[:1]}. owes ${balance.total:,}; "
        f"pay at {email_url} with card 4242 4242 4242 4242 (also in the Dev outbox)."))


# --- bulk payment requests: today's list, two snoozes, a few requests, one undeliverable ---


@transaction.atomic
def bulk_requests_demo_seed() -> DemoResult:
    """Downtown's list for today, with two guarantors snoozed and requests sent to three (one of
    whom has nothing to send to, so the Undeliverable list has a row to fix)."""
    from .bulk_requests.campaigns import Selection, payment_requests_send, selection_targets
    from .bulk_requests.eligibility import Terms
    from .bulk_requests.lists import request_list_make
    from .bulk_requests.snoozes import snooze_create
    from .models import PaymentRequestCampaign, SnoozeReason

    practice = Practice.objects.filter(slug="bright-smiles-downtown").first()
    if practice is None or not Patient.objects.filter(practice=practice).exists():
        return DemoResult(practices=[], created=False)
    summary = "Bulk payment requests: Payments > Bulk payment request, and Undeliverable."
    if PaymentRequestCampaign.objects.filter(practice=practice).exists():
        return DemoResult(practices=[practice], created=False, summary=summary)
    request_list, _ = request_list_make(practice=practice)
    terms = Terms.of(practice)
    pending = selection_targets(request_list=request_list, terms=terms, selection=Selection(everyone=True))
    if len(pending) < 5:
        return DemoResult(practices=[practice], created=False)
    unreachable = set(Patient.objects.filter(pk__in=pending, mobile_phone="", email="")
                      .values_list("pk", flat=True))
    reachable = [pk for pk in pending if pk not in unreachable]
    snooze_create(practice=practice, actor=None, guarantor_ids=reachable[:1],
                  until=terms.today + timedelta(days=7), reason=SnoozeReason.CLAIM_NOT_STARTED)
    snooze_create(practice=practice, actor=None, guarantor_ids=reachable[1:2],
                  until=terms.today + timedelta(days=14), reason=SnoozeReason.PERSONAL,
                  note="pays on the 15th")
    chosen = reachable[2:4] + sorted(unreachable)[:1]
    plan = payment_requests_send(practice=practice, actor=None, request_list=request_list,
                                 selection=Selection(ids=frozenset(chosen)))
    return DemoResult(practices=[practice], created=True, summary=(
        f"{summary} Today's list: {request_list.size} guarantors; 2 snoozed, {plan.campaigns} sent."))
