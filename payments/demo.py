"""Demo data for the Downtown office: payment-plan applications (through the same service as the
API), and its payment settings. The QuickPay demo rides on the demo's dunning messages
(statements/demo.py)."""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

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
