"""Write validated patient records in bulk, idempotently on (practice, external_id).

Two ways with one outcome, each called inside the caller's transaction:

- PostgreSQL: stream the records with COPY into a temporary table, then classify them as
  created/updated/unchanged and merge them with a handful of set-based statements
  (INSERT ... ON CONFLICT DO UPDATE ... WHERE IS DISTINCT FROM). Memory stays flat and the
  database does the work in one pass per table.
- Any other database (SQLite in the embedded profile): chunks of records compared in Python
  and written with bulk_create/bulk_update.

A record changes a patient when a demographic field, a consent, the guarantor, the balance
(when the record carries one) or the visits (a visit day not yet stored) differ. A record
without a balance leaves the stored balance alone; a patient who stops being a guarantor loses
theirs. Guarantors named by a record must exist once the records are in (the callers validate
this first); otherwise `GuarantorUnresolved` is raised and the caller's transaction rolls back.
"""

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import islice

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from .models import Balance, Patient, Visit
from .records import PatientRecord

CHUNK = 2000
PROGRESS_EVERY = 5000

PATIENT_FIELDS = ["first_name", "last_name", "date_of_birth", "email", "mobile_phone", "home_phone",
                  "time_zone", "consent_email", "consent_sms", "consent_voice", "paperless", "do_not_recall"]
BALANCE_FIELDS = ["total", "amount_due", "aging_current", "aging_31_60", "aging_61_90", "aging_91_120",
                  "aging_over_120", "in_collections", "on_payment_plan", "outstanding_claims", "as_of"]


@dataclass
class UpsertCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    balances_changed: list[int] = field(default_factory=list)  # guarantor ids, new balances too

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged


class StoredMeanwhile(Exception):
    """A patient the batch creates was stored by another writer while it was being applied."""


class GuarantorUnresolved(Exception):
    def __init__(self, external_ids: list[str]):
        self.external_ids = external_ids
        super().__init__(f"{len(external_ids)} patients name a guarantor that does not exist or is not "
                         "their own guarantor")


def patients_upsert(*, practice, records: Iterable[PatientRecord], method: str = "auto",
                    progress: Callable[[int], None] | None = None) -> UpsertCounts:
    """Apply the records (validated, each external_id once) and count what they did."""
    if method == "auto":
        method = "copy" if connection.vendor == "postgresql" else "orm"
    with transaction.atomic():  # the temporary tables live until the end of the transaction
        if method == "copy":
            counts = _upsert_copy(practice=practice, records=records, progress=progress)
        else:
            counts = _upsert_orm(practice=practice, records=records, progress=progress)
        _balances_changed(practice, counts)
    return counts


def _balances_changed(practice, counts: UpsertCounts) -> None:
    """Let the apps above react to the balances this import wrote (settings.BALANCE_CHANGED_HOOKS),
    inside its transaction."""
    if counts.balances_changed:
        from .services import balances_changed_notify

        balances_changed_notify(practice_id=practice.pk, guarantor_ids=counts.balances_changed,
                                source="pms_import")


# --- PostgreSQL: COPY into a temporary table, merge in SQL ---

_TEMP_COLUMNS = [
    ("external_id", "text"), ("first_name", "text"), ("last_name", "text"), ("date_of_birth", "date"),
    ("email", "text"), ("mobile_phone", "text"), ("home_phone", "text"), ("time_zone", "text"),
    ("consent_email", "boolean"), ("consent_sms", "boolean"), ("consent_voice", "boolean"),
    ("paperless", "boolean"), ("do_not_recall", "boolean"), ("guarantor_external_id", "text"),
    ("last_visit_on", "date"), ("has_balance", "boolean"),
    ("total", "numeric(12,2)"), ("amount_due", "numeric(12,2)"), ("aging_current", "numeric(12,2)"),
    ("aging_31_60", "numeric(12,2)"), ("aging_61_90", "numeric(12,2)"), ("aging_91_120", "numeric(12,2)"),
    ("aging_over_120", "numeric(12,2)"), ("in_collections", "boolean"), ("on_payment_plan", "boolean"),
    ("outstanding_claims", "integer"), ("as_of", "timestamptz"),
]
COPY_COLUMNS = [name for name, _ in _TEMP_COLUMNS]
_NO_BALANCE = (False, None, None, None, None, None, None, None, None, None, None, None)


def copy_row(r: PatientRecord) -> tuple:
    """A record as a row of the temporary table, in COPY_COLUMNS order."""
    head = (r.external_id, r.first_name, r.last_name, r.date_of_birth, r.email, r.mobile_phone,
            r.home_phone, r.time_zone, r.consent_email, r.consent_sms, r.consent_voice, r.paperless,
            r.do_not_recall, r.guarantor_external_id, r.last_visit_on)
    b = r.balance
    if b is None:
        return head + _NO_BALANCE
    return (*head, True, b.total, b.amount_due, b.aging_current, b.aging_31_60, b.aging_61_90,
            b.aging_91_120, b.aging_over_120, b.in_collections, b.on_payment_plan,
            b.outstanding_claims, b.as_of)


def copy_csv_writer(text_file):
    """A CSV writer whose rows PostgreSQL's COPY (FORMAT csv) reads back exactly: every value
    quoted except None, which COPY reads as NULL."""
    return csv.writer(text_file, quoting=csv.QUOTE_NOTNULL, lineterminator="\n")


def _tuple(prefix: str, fields: list[str]) -> str:
    return "(" + ", ".join(f"{prefix}.{f}" for f in fields) + ")"


# 1. Give every row its patient id: the stored one, or a new one from the table's sequence, so
#    that guarantors and dependents can be linked in the same INSERT (the foreign key is
#    checked at commit), with no second pass over the patients table.
# 2. Resolve guarantors: within the batch first, then among the stored patients. A guarantor
#    must be their own guarantor.
_STAGE = """
CREATE TEMPORARY TABLE patient_import_linked ON COMMIT DROP AS
WITH s AS MATERIALIZED (
    SELECT t.*, p.id AS existing_id, COALESCE(p.id, nextval(%(sequence)s::regclass)) AS id
    FROM patient_import_rows t
    LEFT JOIN patients_patient p ON p.practice_id = %(practice)s AND p.external_id = t.external_id
)
SELECT s.*,
       CASE WHEN s.guarantor_external_id = s.external_id THEN s.id
            WHEN g.id IS NOT NULL THEN g.id
            ELSE gp.id END AS guarantor_id,
       CASE WHEN s.guarantor_external_id = s.external_id THEN true
            WHEN g.id IS NOT NULL THEN g.guarantor_external_id = g.external_id
            ELSE gp.guarantor_id = gp.id END AS guarantor_ok
FROM s
LEFT JOIN s g ON g.external_id = s.guarantor_external_id AND s.guarantor_external_id <> s.external_id
LEFT JOIN patients_patient gp ON gp.practice_id = %(practice)s AND gp.external_id = s.guarantor_external_id
     AND s.guarantor_external_id <> s.external_id AND g.id IS NULL
"""
SMALL_BATCH = 20_000  # rows: an API request at most, as the merge below plans it

_UNRESOLVED = """
SELECT external_id FROM patient_import_linked WHERE guarantor_ok IS NOT TRUE LIMIT 20
"""

# 3. Merge, and count from what the merge did: new patients are plain INSERTs (their rows,
#    balances and visits cannot exist yet); stored ones are written only where something
#    differs, and each statement returns the patients it changed. A stored patient counts as
#    updated when any of the statements changed something of theirs; the others are unchanged.
#    One statement: its parts see the same snapshot and touch different rows; the foreign keys
#    (deferred) are checked at commit.
_MERGE = f"""
WITH new_patients AS (
    INSERT INTO patients_patient (id, practice_id, external_id, {", ".join(PATIENT_FIELDS)}, guarantor_id,
                                  last_visit_on, created_at, updated_at)
    SELECT t.id, %(practice)s, t.external_id, {", ".join("t." + f for f in PATIENT_FIELDS)}, t.guarantor_id,
           t.last_visit_on, %(now)s, %(now)s
    FROM patient_import_linked t
    WHERE t.existing_id IS NULL
    RETURNING 1
), changed_patients AS (
    UPDATE patients_patient p SET
        {", ".join(f"{f} = t.{f}" for f in PATIENT_FIELDS)},
        guarantor_id = t.guarantor_id,
        last_visit_on = GREATEST(p.last_visit_on, t.last_visit_on),
        updated_at = %(now)s
    FROM patient_import_linked t
    WHERE t.existing_id IS NOT NULL AND p.id = t.existing_id
      AND ({_tuple("p", PATIENT_FIELDS)} IS DISTINCT FROM {_tuple("t", PATIENT_FIELDS)}
           OR p.guarantor_id IS DISTINCT FROM t.guarantor_id
           OR GREATEST(p.last_visit_on, t.last_visit_on) IS DISTINCT FROM p.last_visit_on)
    RETURNING p.id
), new_balances AS (
    INSERT INTO patients_balance (practice_id, guarantor_id, {", ".join(BALANCE_FIELDS)}, updated_at)
    SELECT %(practice)s, t.id, {", ".join("t." + f for f in BALANCE_FIELDS)}, %(now)s
    FROM patient_import_linked t
    WHERE t.has_balance AND t.existing_id IS NULL
    RETURNING guarantor_id AS id
), changed_balances AS (
    INSERT INTO patients_balance (practice_id, guarantor_id, {", ".join(BALANCE_FIELDS)}, updated_at)
    SELECT %(practice)s, t.id, {", ".join("t." + f for f in BALANCE_FIELDS)}, %(now)s
    FROM patient_import_linked t
    WHERE t.has_balance AND t.existing_id IS NOT NULL
    ON CONFLICT (guarantor_id) DO UPDATE SET
        {", ".join(f"{f} = EXCLUDED.{f}" for f in BALANCE_FIELDS)}, updated_at = EXCLUDED.updated_at
    WHERE {_tuple("patients_balance", BALANCE_FIELDS)} IS DISTINCT FROM {_tuple("EXCLUDED", BALANCE_FIELDS)}
    RETURNING guarantor_id AS id
), dropped_balances AS (
    DELETE FROM patients_balance b
    USING patient_import_linked t
    WHERE b.guarantor_id = t.existing_id AND t.guarantor_external_id <> t.external_id
    RETURNING b.guarantor_id AS id
), new_visits AS (
    INSERT INTO patients_visit (practice_id, patient_id, visited_on)
    SELECT %(practice)s, t.id, t.last_visit_on
    FROM patient_import_linked t
    WHERE t.last_visit_on IS NOT NULL AND t.existing_id IS NULL
), added_visits AS (
    INSERT INTO patients_visit (practice_id, patient_id, visited_on)
    SELECT %(practice)s, t.id, t.last_visit_on
    FROM patient_import_linked t
    WHERE t.last_visit_on IS NOT NULL AND t.existing_id IS NOT NULL
    ON CONFLICT (patient_id, visited_on) DO NOTHING
    RETURNING patient_id AS id
)
SELECT (SELECT count(*) FROM new_patients),
       (SELECT count(*) FROM (SELECT id FROM changed_patients UNION SELECT id FROM changed_balances
                              UNION SELECT id FROM dropped_balances UNION SELECT id FROM added_visits) c),
       (SELECT array_agg(id) FROM (SELECT id FROM new_balances UNION ALL SELECT id FROM changed_balances) b)
"""  # noqa: S608 - composed from the constant field lists above, no input


def _create_temp_table(cursor, *, with_row_number: bool = False) -> None:
    cursor.execute("DROP TABLE IF EXISTS patient_import_rows, patient_import_linked")
    columns = ([("row_number", "integer")] if with_row_number else []) + _TEMP_COLUMNS
    cursor.execute("CREATE TEMPORARY TABLE patient_import_rows ("
                   + ", ".join(f"{n} {t}" for n, t in columns) + ") ON COMMIT DROP")


def _upsert_copy(*, practice, records, progress) -> UpsertCounts:
    with connection.cursor() as cursor:
        _create_temp_table(cursor)
        count = 0
        # Rows go out as CSV written by the csv module (C code), in buffers of PROGRESS_EVERY
        # rows: several times cheaper per row than formatting each value through write_row.
        statement = f"COPY patient_import_rows ({', '.join(COPY_COLUMNS)}) FROM STDIN (FORMAT csv)"
        buffer = io.StringIO()
        writer = copy_csv_writer(buffer)
        with cursor.cursor.copy(statement) as copy:
            for record in records:
                writer.writerow(copy_row(record))
                count += 1
                if count % PROGRESS_EVERY == 0:
                    copy.write(buffer.getvalue())
                    buffer.seek(0)
                    buffer.truncate()
                    if progress:
                        progress(count)
            copy.write(buffer.getvalue())
        return _merge(cursor, practice, progress, count)


def patients_upsert_copy_file(*, practice, lines, skip_rows: list[int],
                              progress: Callable[[int], None] | None = None) -> UpsertCounts:
    """PostgreSQL only: merge a CSV file (binary chunks) of rows written by `copy_csv_writer`."""
    with transaction.atomic():
        counts = _upsert_copy_file(practice=practice, lines=lines, skip_rows=skip_rows, progress=progress)
        _balances_changed(practice, counts)
    return counts


def _upsert_copy_file(*, practice, lines, skip_rows, progress) -> UpsertCounts:
    with connection.cursor() as cursor:
        _create_temp_table(cursor, with_row_number=True)
        with cursor.cursor.copy("COPY patient_import_rows FROM STDIN (FORMAT csv)") as copy:
            for chunk in lines:
                copy.write(chunk)
        if skip_rows:
            cursor.execute("DELETE FROM patient_import_rows WHERE row_number = ANY(%s)", [skip_rows])
        cursor.execute("SELECT count(*) FROM patient_import_rows")
        count = cursor.fetchone()[0]
        if progress:
            progress(count // 2)
        return _merge(cursor, practice, progress, count)


def _merge(cursor, practice, progress, count: int) -> UpsertCounts:
    params = {"practice": practice.pk, "now": timezone.now()}
    # One merge at a time per practice: ids for new patients are drawn before the INSERT, so
    # two batches creating the same new guarantor at once would link dependents to an id that
    # lost the race. The lock is held until the transaction ends.
    cursor.execute("SELECT pg_advisory_xact_lock(hashtext('patients.upsert'), %(practice)s)", params)
    # The temporary table has no statistics, and the planner's guess is to sort 100,000 text keys
    # for merge joins; hash joins do the same work about a quarter faster (measured).
    cursor.execute("SET LOCAL enable_mergejoin = off")
    # Looked up once: as an expression in the statement it would be evaluated for every row.
    cursor.execute("SELECT pg_get_serial_sequence('patients_patient', 'id')")
    params["sequence"] = cursor.fetchone()[0]
    small = count <= SMALL_BATCH
    cursor.execute(_STAGE, params)
    cursor.execute(_UNRESOLVED)
    unresolved = [row[0] for row in cursor.fetchall()]
    if unresolved:
        raise GuarantorUnresolved(unresolved)
    if small:
        # The stored rows a small batch changes are found by their ids (primary key, balance's
        # guarantor index), not by reading every patient and balance into a hash table. (For
        # the staging above, hash joins measured faster even for 10,000 rows beside 100,000.)
        cursor.execute("SET LOCAL enable_hashjoin = off")
    try:
        cursor.execute(_MERGE, params)
    except IntegrityError:
        # Only the (practice, external_id) of a new patient can collide: another writer (not an
        # import: imports hold the lock above) stored it since the staging. Nothing is applied;
        # the caller may send the batch again, and it will then update that patient.
        raise StoredMeanwhile from None
    created, updated, balances_changed = cursor.fetchone()
    if small:
        cursor.execute("SET LOCAL enable_hashjoin = on")
    cursor.execute("DROP TABLE patient_import_rows, patient_import_linked")
    if progress:
        progress(count)
    return UpsertCounts(created=created, updated=updated, unchanged=count - created - updated,
                        balances_changed=balances_changed or [])


# --- Any database: chunks compared in Python ---

def _balance_differs(balance: Balance, record) -> bool:
    return any(getattr(balance, f) != getattr(record, f) for f in BALANCE_FIELDS)


def _upsert_orm(*, practice, records, progress) -> UpsertCounts:
    counts = UpsertCounts()
    links: list[tuple[str, str]] = []  # (external_id, guarantor external_id) to set at the end
    guarantors: set[str] = set()
    iterator = iter(records)
    done = 0
    while chunk := list(islice(iterator, CHUNK)):
        _orm_chunk(practice, chunk, counts, links)
        guarantors.update(r.guarantor_external_id for r in chunk)
        done += len(chunk)
        if progress:
            progress(done)
    _orm_link_guarantors(practice, links, guarantors)
    return counts


def _orm_chunk(practice, chunk: list[PatientRecord], counts: UpsertCounts, links: list) -> None:
    existing = {p.external_id: p for p in Patient.objects.filter(
        practice=practice, external_id__in=[r.external_id for r in chunk]).select_related("guarantor")}
    balances = {b.guarantor_id: b for b in Balance.objects.filter(guarantor__in=existing.values())}
    visits = set(Visit.objects.filter(patient__in=existing.values(),
                                      visited_on__in={r.last_visit_on for r in chunk if r.last_visit_on})
                 .values_list("patient_id", "visited_on"))
    new, changed = [], []
    for record in chunk:
        patient = existing.get(record.external_id)
        if patient is None:
            patient = Patient(practice=practice, external_id=record.external_id,
                              last_visit_on=record.last_visit_on,
                              **{f: getattr(record, f) for f in PATIENT_FIELDS})
            existing[record.external_id] = patient
            new.append(patient)
            counts.created += 1
            links.append((record.external_id, record.guarantor_external_id))
            continue
        differs = False
        for f in PATIENT_FIELDS:
            value = getattr(record, f)
            if getattr(patient, f) != value:
                setattr(patient, f, value)
                differs = True
        visit = record.last_visit_on
        if visit and (patient.last_visit_on is None or visit > patient.last_visit_on):
            patient.last_visit_on = record.last_visit_on
            differs = True
        if differs:
            patient.updated_at = timezone.now()
            changed.append(patient)
        current_guarantor = patient.guarantor.external_id if patient.guarantor_id else None
        if current_guarantor != record.guarantor_external_id:
            links.append((record.external_id, record.guarantor_external_id))
            differs = True
        if record.last_visit_on and (patient.pk, record.last_visit_on) not in visits:
            differs = True
        balance = balances.get(patient.pk)
        if record.balance is not None and (balance is None or _balance_differs(balance, record.balance)):
            differs = True
        if not record.is_guarantor and balance is not None:
            differs = True
        if differs:
            counts.updated += 1
        else:
            counts.unchanged += 1
    Patient.objects.bulk_create(new, batch_size=500)
    Patient.objects.bulk_update(changed, [*PATIENT_FIELDS, "last_visit_on", "updated_at"], batch_size=500)
    new_balances, changed_balances, dropped = [], [], []
    for record in chunk:
        patient = existing[record.external_id]
        balance = balances.get(patient.pk)
        if not record.is_guarantor:
            if balance is not None:
                dropped.append(balance.pk)
            continue
        if record.balance is None:
            continue
        if balance is None:
            new_balances.append(Balance(practice=practice, guarantor=patient,
                                        **{f: getattr(record.balance, f) for f in BALANCE_FIELDS}))
        elif _balance_differs(balance, record.balance):
            for f in BALANCE_FIELDS:
                setattr(balance, f, getattr(record.balance, f))
            changed_balances.append(balance)
    Balance.objects.bulk_create(new_balances, batch_size=500)
    Balance.objects.bulk_update(changed_balances, BALANCE_FIELDS, batch_size=500)
    counts.balances_changed += [b.guarantor.pk for b in new_balances]
    counts.balances_changed += [b.guarantor_id for b in changed_balances]
    Balance.objects.filter(pk__in=dropped).delete()
    Visit.objects.bulk_create(
        [Visit(practice=practice, patient=existing[r.external_id], visited_on=r.last_visit_on)
         for r in chunk if r.last_visit_on and (existing[r.external_id].pk, r.last_visit_on) not in visits],
        batch_size=500, ignore_conflicts=True)


def _orm_link_guarantors(practice, links: list[tuple[str, str]], guarantors: set[str]) -> None:
    it = iter(links)
    unresolved = []
    while chunk := list(islice(it, CHUNK)):
        wanted = {e for pair in chunk for e in pair}
        rows = dict(Patient.objects.filter(practice=practice, external_id__in=wanted)
                    .values_list("external_id", "pk"))
        patients = []
        for external_id, guarantor_external_id in chunk:
            guarantor_pk = rows.get(guarantor_external_id)
            if guarantor_pk is None:
                unresolved.append(external_id)
                continue
            patients.append(Patient(pk=rows[external_id], guarantor_id=guarantor_pk))
        Patient.objects.bulk_update(patients, ["guarantor_id"], batch_size=500)
    if unresolved:
        raise GuarantorUnresolved(unresolved[:20])
    # A guarantor must be their own guarantor: refuse chains (A -> B -> C).
    chained = []
    it = iter(guarantors)
    while chunk := list(islice(it, CHUNK)):
        chained += list(Patient.objects.filter(practice=practice, external_id__in=chunk)
                        .exclude(guarantor_id=F("id")).values_list("external_id", flat=True)[:20])
    if chained:
        raise GuarantorUnresolved(chained[:20])
