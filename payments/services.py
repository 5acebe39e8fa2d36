"""Writes for payment-plan applications: recording the provider's events, alert preferences."""

from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, F

from config.rows import insert_if_absent
from patients.services import patient_ensure
from practices.models import Membership, Practice
from practices.services import audit_record

from . import alerts
from .bulk_requests.lists import request_list_hour_set
from .models import Alert, AlertPreference, Application, ApplicationEvent, EventType


@dataclass(frozen=True)
class EventRecordResult:
    event: ApplicationEvent
    created: bool  # False: this event_id was recorded before, nothing changed


def application_patient_resolve(*, application: Application, linked_external_id: str | None = None) -> None:
    """Link the application to the practice's patient record: found by external id, or created.

    The application also keeps the patient's external id and name exactly as the provider sent
    them; a patient created here carries those names until the PMS sends the full record. The
    caller saves the application. `linked_external_id`: the PMS id of the patient it is linked to.
    """
    if application.patient_id and linked_external_id == application.patient_external_id:
        return
    application.patient = patient_ensure(
        practice=application.practice, external_id=application.patient_external_id,
        first_name=application.patient_first_name, last_name=application.patient_last_name)


class _Repeated(Exception):
    """The event_id was recorded before: nothing this call wrote may stay."""


def _application_locked(*, practice: Practice, external_id: str, event_id: str) -> Application | None:
    """The application, locked, with whether `event_id` was recorded before and the PMS id of its
    patient (only the application's row is locked)."""
    application = (Application.objects.select_for_update(of=("self",))
                   .annotate(repeated=Exists(ApplicationEvent.objects.filter(practice=practice,
                                                                             event_id=event_id)),
                             linked_external_id=F("patient__external_id"))
                   .filter(practice=practice, external_id=external_id).first())
    if application is not None:
        application.practice = practice
    return application


def application_event_record(*, practice: Practice, event_id: str, application_id: str, type: str,
                             occurred_at: datetime, patient_external_id: str, patient_first_name: str,
                             patient_last_name: str) -> EventRecordResult:
    """Record one event from the financing provider and act on it.

    1. A repeated event_id is answered with the first recording and changes nothing.
    2. The application is locked for the rest of the transaction (or created, with its patient,
       on its first event), so two events of one application are applied one after the other.
    3. Its state and timers follow its events in the order they occurred, so an event that
       arrives late or out of order lands where it belongs (`application_event_apply`).
    4. Declined, activated and pre-qualified make their alert due now: a worker fires it as
       soon as the event is committed (alerts.alerts_kick), set-based with whatever else is due.

    A first event costs nine statements or fewer: a provider replaying a day of events sends
    hundreds a second.
    """
    if type not in EventType.values:
        raise ValidationError({"type": f"Unknown event type {type!r}."})
    try:
        event = _event_record(
            practice=practice, event_id=event_id, application_id=application_id, type=type,
            occurred_at=occurred_at, patient_external_id=patient_external_id,
            patient_first_name=patient_first_name, patient_last_name=patient_last_name)
    except _Repeated:
        return EventRecordResult(ApplicationEvent.objects.select_related("application")
                                 .get(practice=practice, event_id=event_id), created=False)
    return EventRecordResult(event, created=True)


@transaction.atomic
def _event_record(*, practice: Practice, event_id: str, application_id: str, type: str,
                  occurred_at: datetime, patient_external_id: str, patient_first_name: str,
                  patient_last_name: str) -> ApplicationEvent:
    application = _application_locked(practice=practice, external_id=application_id, event_id=event_id)
    first = application is None
    if first:
        application = Application(
            practice=practice, external_id=application_id, patient_external_id=patient_external_id,
            patient_first_name=patient_first_name, patient_last_name=patient_last_name,
            state=type, state_at=occurred_at, **{f"{type}_at": occurred_at})
        application_patient_resolve(application=application)
        if not insert_if_absent(application, unique_fields=("practice", "external_id")):
            # Its first event is being recorded by a concurrent request: wait for it, then
            # apply this one on top.
            application, first = _application_locked(practice=practice, external_id=application_id,
                                                     event_id=event_id), False
    if not first and application.repeated:
        raise _Repeated
    if application.patient_external_id != patient_external_id:
        raise ValidationError({"patient.external_id": "This application belongs to another patient; "
                                                      "an application's patient cannot change."})
    event = ApplicationEvent(practice=practice, application=application, event_id=event_id, type=type,
                             occurred_at=occurred_at)
    if not insert_if_absent(event, unique_fields=("practice", "event_id")):
        raise _Repeated  # recorded by a concurrent request (or, for a new application, before)
    if not first:
        application.patient_first_name = patient_first_name
        application.patient_last_name = patient_last_name
        application_event_apply(application, type=type, occurred_at=occurred_at)
        application_patient_resolve(application=application,
                                    linked_external_id=application.linked_external_id)
        application.save(update_fields=[
            "patient_first_name", "patient_last_name", "patient", "state", "state_at",
            *(f"{t}_at" for t in EventType.values), "updated_at"])
    if alerts.alert_timers_sync(application=application, event_type=type, new=first):
        transaction.on_commit(alerts.alerts_kick, robust=True)
    return event


def application_event_apply(application: Application, *, type: str, occurred_at: datetime) -> None:
    """Fold one more event into the derived fields; the same as deriving them from every event.

    State = the type of the latest event by (occurred_at, id); <type>_at = its first occurrence.
    The new event has the highest id of its application (it is inserted under the application's
    lock), so it becomes the state when it is not older than the current state.
    """
    if occurred_at >= application.state_at:
        application.state, application.state_at = type, occurred_at
    first_at = application.first_at(type)
    if first_at is None or occurred_at < first_at:
        setattr(application, f"{type}_at", occurred_at)


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
