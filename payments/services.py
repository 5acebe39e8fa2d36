"""Writes for payment-plan applications: recording the provider's events, alert preferences."""

from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from patients.services import patient_ensure
from practices.models import Membership, Practice
from practices.services import audit_record

from . import alerts
from .bulk_requests.lists import request_list_hour_set
from .models import Alert, AlertPreference, Application, ApplicationEvent, EventType

# Alerts sent at once when an event of this type is recorded.
IMMEDIATE_ALERTS = {
    EventType.DECLINED: Alert.DECLINED,
    EventType.ACTIVATED: Alert.ACTIVATED,
    EventType.PREQUALIFIED: Alert.PREQUALIFIED,
}


@dataclass(frozen=True)
class EventRecordResult:
    event: ApplicationEvent
    created: bool  # False: this event_id was recorded before, nothing changed


def application_patient_resolve(*, application: Application) -> None:
    """Link the application to the practice's patient record: found by external id, or created.

    The application also keeps the patient's external id and name exactly as the provider sent
    them; a patient created here carries those names until the PMS sends the full record.
    """
    if application.patient_id and application.patient.external_id == application.patient_external_id:
        return
    patient = patient_ensure(practice=application.practice, external_id=application.patient_external_id,
                             first_name=application.patient_first_name,
                             last_name=application.patient_last_name)
    Application.objects.filter(pk=application.pk).update(patient=patient)
    application.patient = patient


@transaction.atomic
def application_event_record(*, practice: Practice, event_id: str, application_id: str, type: str,
                             occurred_at: datetime, patient_external_id: str, patient_first_name: str,
                             patient_last_name: str) -> EventRecordResult:
    """Record one event from the financing provider and act on it.

    1. A repeated event_id is answered with the first recording and changes nothing.
    2. The application is created on its first event and locked for the rest of the
       transaction, so two events of one application are applied one after the other.
    3. Its state and timers are recomputed from all its events in the order they occurred,
       so an event that arrives late or out of order lands where it belongs.
    4. Declined, activated and pre-qualified alert the team at once (at most once each).
    """
    if type not in EventType.values:
        raise ValidationError({"type": f"Unknown event type {type!r}."})
    existing = ApplicationEvent.objects.filter(practice=practice, event_id=event_id).first()
    if existing is not None:
        return EventRecordResult(existing, created=False)
    application, created = Application.objects.select_for_update().get_or_create(
        practice=practice, external_id=application_id,
        defaults={"patient_external_id": patient_external_id, "patient_first_name": patient_first_name,
                  "patient_last_name": patient_last_name, "state": type, "state_at": occurred_at})
    application.practice = practice
    if not created and application.patient_external_id != patient_external_id:
        raise ValidationError({"patient.external_id": "This application belongs to another patient; "
                                                      "an application's patient cannot change."})
    try:
        with transaction.atomic():
            event = ApplicationEvent.objects.create(practice=practice, application=application,
                                                    event_id=event_id, type=type, occurred_at=occurred_at)
    except IntegrityError:
        # The same event_id, recorded by a concurrent request between our check and insert.
        return EventRecordResult(ApplicationEvent.objects.get(practice=practice, event_id=event_id),
                                 created=False)
    application.patient_external_id = patient_external_id
    application.patient_first_name = patient_first_name
    application.patient_last_name = patient_last_name
    if created:
        setattr(application, f"{type}_at", occurred_at)
    else:
        _application_derive(application)
    application.save()
    application_patient_resolve(application=application)
    alerts.alert_timers_sync(application=application)
    if type in IMMEDIATE_ALERTS:
        alerts.alert_fire(application=application, alert=IMMEDIATE_ALERTS[type])
    return EventRecordResult(event, created=True)


def _application_derive(application: Application) -> None:
    """State = the type of the latest event by occurred_at; <type>_at = its first occurrence."""
    firsts: dict[str, datetime] = {}
    latest = None
    for event_type, occurred_at in (application.events.order_by("occurred_at", "pk")
                                    .values_list("type", "occurred_at")):
        firsts.setdefault(event_type, occurred_at)
        latest = (event_type, occurred_at)
    for event_type in EventType.values:
        setattr(application, f"{event_type}_at", firsts.get(event_type))
    application.state, application.state_at = latest


@transaction.atomic
def alert_preference_set(*, membership: Membership, alert: str, enabled: bool, delivery: str,
                         actor=None) -> AlertPreference:
    if alert not in Alert.values:
        raise ValidationError({"alert": f"Unknown alert {alert!r}."})
    if delivery not in AlertPreference.Delivery.values:
        choices = ", ".join(AlertPreference.Delivery.values)
        raise ValidationError({"delivery": f"Delivery must be one of {choices}."})
    preference, _ = AlertPreference.objects.update_or_create(
        membership=membership, alert=alert, defaults={"enabled": enabled, "delivery": delivery})
    audit_record(practice=membership.practice, actor=actor or membership.user,
                 action="alerts.preference_changed", target=membership.user.email, alert=alert,
                 mode=preference.mode)
    return preference


@transaction.atomic
def payment_settings_update(*, form, practice: Practice, actor) -> list[str]:
    """Save an admin's payment settings form (validated by the caller); the changed fields."""
    changed = list(form.changed_data)
    row = form.save(commit=False)
    row.practice = practice
    row.save()
    if "request_list_hour" in changed:
        request_list_hour_set(practice=practice, hour=row.request_list_hour)
    if changed:
        audit_record(practice=practice, actor=actor, action="payments.settings_changed",
                     target="payment settings", **{f: str(form.cleaned_data[f]) for f in changed})
    return changed
