"""PostgreSQL statements for recording application events, where the ORM costs the API more
CPU than the statements cost the database (payments.services keeps the generic path).

Both run in the caller's transaction, prepared (config.sql.run): a provider replaying a day
of events calls them hundreds of times a second, and planning them cost PostgreSQL more than
running them.
"""

# ruff: noqa: S608 - statements built from table and column names, values are parameters

import enum
import re
from functools import cache

from django.db import connection

from config.rows import insert_values, mark_saved
from config.sql import run
from patients.models import Patient

from . import alerts
from .models import AlertTimer, Application, ApplicationEvent

_APPLICATIONS, _EVENTS = Application._meta.db_table, ApplicationEvent._meta.db_table
_PATIENTS, _TIMERS = Patient._meta.db_table, AlertTimer._meta.db_table


@cache
def _locked_sql() -> tuple[str, list[str]]:
    fields = Application._meta.concrete_fields
    return (f"SELECT {', '.join('a.' + f.column for f in fields)}, EXISTS (SELECT 1 FROM {_EVENTS} e "
            "WHERE e.practice_id = %s AND e.event_id = %s), p.external_id "
            f"FROM {_APPLICATIONS} a LEFT JOIN {_PATIENTS} p ON p.id = a.patient_id "
            "WHERE a.practice_id = %s AND a.external_id = %s FOR UPDATE OF a"), [f.attname for f in fields]


def application_locked(*, practice_id: int, external_id: str, event_id: str) -> Application | None:
    """The application, its row locked, with `repeated` (was `event_id` recorded before) and
    `linked_external_id` (the PMS id of its patient): one statement."""
    sql, names = _locked_sql()
    rows = run(sql, [practice_id, event_id, practice_id, external_id], prepare=True)
    if not rows:
        return None
    row = rows[0]
    application = Application.from_db(connection.alias, names, row[:len(names)])
    application.repeated, application.linked_external_id = row[len(names):]
    return application


class Written(enum.Enum):
    ALL = "all"  # patient (found or created), application, event and timers
    REPEATED = "repeated"  # the event_id was recorded before: nothing written
    APPLICATION_TAKEN = "application taken"  # created meanwhile by a concurrent request
    PATIENT_TAKEN = "patient taken"  # the patient was being created by a concurrent request


# Columns whose value the statement computes: a new patient is their own guarantor; the rows
# after it point at the row before them.
_COMPUTED = {Patient: {"guarantor_id": "s.id"}, Application: {"patient_id": "p.id"},
             ApplicationEvent: {"application_id": "a.id"}, AlertTimer: {"application_id": "a.id"}}


def _columns(model) -> tuple[str, str]:
    """An INSERT's column list for `model` and its SELECT list: parameters named with their
    column's type (without a length: a value too long for its column is refused, not cut), or
    computed."""
    fields = [f for f in model._meta.local_concrete_fields if not f.primary_key]
    computed = _COMPUTED[model]
    return (", ".join(f.column for f in fields),
            ", ".join(computed.get(f.column) or f"%s::{re.sub(r'\(\d+\)$', '', f.db_type(connection))}"
                      for f in fields))


@cache
def _first_event_sql(timer_count: int) -> str:
    patient, application = _columns(Patient), _columns(Application)
    event, timer = _columns(ApplicationEvent), _columns(AlertTimer)
    parts = [
        f"WITH pf AS (SELECT id FROM {_PATIENTS} WHERE practice_id = %s AND external_id = %s::varchar)",
        f"pn AS (INSERT INTO {_PATIENTS} (id, {patient[0]}) SELECT s.id, {patient[1]} "
        f"FROM (SELECT nextval(pg_get_serial_sequence('{_PATIENTS}', 'id')) AS id "
        "WHERE NOT EXISTS (SELECT 1 FROM pf)) s "
        "ON CONFLICT (practice_id, external_id) DO NOTHING RETURNING id)",
        "p AS (SELECT id FROM pf UNION ALL SELECT id FROM pn)",
        f"a AS (INSERT INTO {_APPLICATIONS} ({application[0]}) SELECT {application[1]} FROM p "
        "ON CONFLICT (practice_id, external_id) DO NOTHING RETURNING id)",
        f"e AS (INSERT INTO {_EVENTS} ({event[0]}) SELECT {event[1]} FROM a "
        "ON CONFLICT (practice_id, event_id) DO NOTHING RETURNING id)",
        *(f"t{i} AS (INSERT INTO {_TIMERS} ({timer[0]}) SELECT {timer[1]} FROM a, e RETURNING id)"
          for i in range(timer_count)),
    ]
    timer_ids = "".join(f", (SELECT id FROM t{i})" for i in range(timer_count))
    return (", ".join(parts) + " SELECT (SELECT id FROM p LIMIT 1), (SELECT id FROM pn), "
            f"(SELECT id FROM a), (SELECT id FROM e){timer_ids}")


def _values(instance) -> list:
    computed = _COMPUTED[type(instance)]
    return [v for c, v in zip(*insert_values(instance), strict=True) if c not in computed]


def first_event_insert(application: Application, event: ApplicationEvent) -> Written:
    """An application's first event in one statement (data-modifying WITH clauses).

    The practice's patient with the application's patient id is found or created (as their own
    guarantor, as `patient_ensure` does), then the application, its event and its first timers
    (`alerts.alert_timers_first`) are inserted, each only if the one before it was: a key taken
    by a concurrent request (ON CONFLICT, which waits for that request to end) writes nothing
    after it, and the answer says which, for the caller to take the path that handles it. On
    ALL the unsaved `application` and `event` become the rows written.
    """
    patient = Patient(practice_id=application.practice_id, external_id=application.patient_external_id,
                      first_name=application.patient_first_name[:100],
                      last_name=application.patient_last_name[:100])
    timers = alerts.alert_timers_first(application=application, event_type=event.type)
    params = [application.practice_id, application.patient_external_id, *_values(patient),
              *_values(application), *_values(event)]
    for timer in timers:
        params += _values(timer)
    [(patient_id, created_patient_id, application_id, event_id, *timer_ids)] = run(
        _first_event_sql(len(timers)), params, prepare=True)
    if patient_id is None:
        return Written.PATIENT_TAKEN
    if application_id is None:
        return Written.APPLICATION_TAKEN
    if event_id is None:
        return Written.REPEATED
    if created_patient_id is not None:
        mark_saved(patient, created_patient_id)
        patient.guarantor_id = created_patient_id
        application.patient = patient
    else:
        application.patient_id = patient_id
    mark_saved(application, application_id)
    event.application = application
    mark_saved(event, event_id)
    for timer, pk in zip(timers, timer_ids, strict=True):
        mark_saved(timer, pk)
    return Written.ALL
