"""Application events on the embedded default's database (SQLite), which takes the generic path
(PostgreSQL records a first event in one statement): first events with new and known patients,
a late event, repeats, and the alerts they raise, fired and delivered by send_due. Run in a
process of its own with the embedded profile, on a fresh database."""

SCRIPT = r'''
from datetime import timedelta

from django.core.management import call_command
from django.utils import timezone

from notifications.models import SandboxMessage
from patients.models import Patient
from payments.alerts import alert_timers_fire
from payments.models import AlertDelivery, AlertTimer, Application, ApplicationEvent
from payments.services import application_event_record
from practices.models import Membership, Practice, Role, User

practice = Practice.objects.create(name="Embedded Dental", slug="embedded", time_zone="UTC")
for email in ("a@example.test", "b@example.test"):
    Membership.objects.create(practice=practice, role=Role.STAFF, user=User.objects.create_user(email=email))
now = timezone.now()


def record(event_id, application, kind, minutes_ago, patient="pms-1"):
    return application_event_record(
        practice=practice, event_id=event_id, application_id=application, type=kind,
        occurred_at=now - timedelta(minutes=minutes_ago), patient_external_id=patient,
        patient_first_name="Ann", patient_last_name="Lee")


assert record("e-1", "app-1", "started", 30).created
assert record("e-2", "app-2", "declined", 20).created  # a known patient
assert record("e-3", "app-1", "prequalified", 10).created
assert record("e-4", "app-1", "completed", 40).created  # late: the state stays pre-qualified
assert not record("e-3", "app-1", "prequalified", 10).created
assert not record("e-3", "app-3", "declined", 10, patient="pms-3").created  # another application's id
patient = Patient.objects.get(practice=practice, external_id="pms-1")
assert patient.guarantor_id == patient.pk and Patient.objects.count() == 1
assert not Application.objects.filter(external_id="app-3").exists()
app = Application.objects.get(external_id="app-1")
assert (app.state, app.patient_id, ApplicationEvent.objects.count()) == ("prequalified", patient.pk, 4)
assert set(AlertTimer.objects.values_list("application__external_id", "alert", "status")) == {
    ("app-1", "incomplete", "cancelled"), ("app-1", "prequalified", "pending"),
    ("app-2", "declined", "pending")}
assert alert_timers_fire() == {"timers_fired": 2, "timers_failed": 0}
assert AlertDelivery.objects.count() == 4
call_command("send_due")
assert sorted(SandboxMessage.objects.values_list("to", "subject")) == sorted(
    (to, subject) for to in ("a@example.test", "b@example.test")
    for subject in ("Declined application: Ann L. · Embedded Dental",
                    "Pre-qualified: Ann L. · Embedded Dental"))
print("embedded events ok")
'''


def test_application_events_and_their_alerts_on_the_embedded_sqlite_database(embedded_manage):
    assert "embedded events ok" in embedded_manage("shell", "--verbosity", "0", "-c", SCRIPT)
