"""Demo data for the Downtown office: payment-plan applications (through the same service as the
API), its payment settings, and bulk payment requests. The QuickPay demo rides on the demo's
dunning messages (statements/demo.py)."""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from patients.models import Patient
from practices.demo import DemoResult
from practices.models import Practice

from .alerts import alert_timers_fire
from .models import Application, PaymentSettings
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


# --- QuickPay: the demo office's payment settings (its dunning messages carry the links) ---


@transaction.atomic
def payment_settings_demo_seed() -> DemoResult:
    """Downtown's payment settings with a (demo) Stripe Connect account, so the Payment settings
    screen shows one; the sandbox gateway of the embedded default needs none."""
    practice = Practice.objects.filter(slug="bright-smiles-downtown").first()
    if practice is None:
        return DemoResult(practices=[], created=False)
    _, created = PaymentSettings.objects.get_or_create(
        practice=practice, defaults={"stripe_account_id": "acct_1DemoBrightSmiles"})
    return DemoResult(practices=[practice], created=created)


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
