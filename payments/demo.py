"""Demo payment-plan applications for the Downtown office, fed through the same service as the API."""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from practices.demo import DemoResult
from practices.models import Practice

from .alerts import alert_timers_fire
from .models import Application
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
