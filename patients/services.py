"""Writes for patients: the API's bulk upsert and the CSV import's lifecycle."""

from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.utils.module_loading import import_string

from config.rows import insert_if_absent
from practices.services import audit_record

from .csv_import import RowsChanged, csv_records, csv_validate
from .guarantor_links import GuarantorLinks
from .models import Patient, PatientImport
from .records import PatientRecord, record_from_json
from .uploads import (
    UploadFailed,
    UploadKind,
    upload_confirm,
    upload_create,
    upload_progress,
    upload_run,
    upload_sweep,
    upload_validate,
)
from .upsert import (
    GuarantorUnresolved,
    StoredMeanwhile,
    UpsertCounts,
    patients_upsert,
    patients_upsert_copy_file,
)

BULK_LIMIT = 10_000


@dataclass
class BulkResult:
    counts: UpsertCounts
    rejected: list[dict] = field(default_factory=list)  # {index, field, message}


def patients_bulk_upsert(*, practice, items: list) -> BulkResult:
    """Validate every record, apply the valid ones, report the others one by one."""
    links = GuarantorLinks(practice=practice)
    rejected: list[dict] = []
    records: dict[int, PatientRecord] = {}
    for index, item in enumerate(items):
        record, errors = record_from_json(item)
        if record is None:
            links.add_rejected(index, item.get("external_id") if isinstance(item, dict) else None)
            rejected += [{"index": index, "field": e.field, "message": e.message} for e in errors]
            continue
        duplicate = links.add(index, record)
        if duplicate:
            rejected.append({"index": index, "field": duplicate.field, "message": duplicate.message})
            continue
        records[index] = record
    for rejection in links.finish():
        records.pop(rejection.index, None)
        rejected.append({"index": rejection.index, "field": rejection.field, "message": rejection.message})
    with transaction.atomic():
        counts = patients_upsert(practice=practice, records=records.values())
        if counts.created or counts.updated:
            audit_record(practice=practice, actor=None, action="patients.api_upsert",
                         target=f"{len(items)} records", created=counts.created, updated=counts.updated,
                         rejected=len({r["index"] for r in rejected}))
    rejected.sort(key=lambda r: r["index"])
    return BulkResult(counts=counts, rejected=rejected)


# --- CSV import (the shared life of an upload is in uploads.py) ---

class PatientImports(UploadKind):
    model = PatientImport
    name, done_action = "patients.import", "patients.imported"
    empty_message = ("The file is empty (0 bytes). Export the patients from your practice-management "
                     "system again, or start from the template.")
    failures = {
        GuarantorUnresolved: "Some guarantors were removed or changed since the file was checked.",
        StoredMeanwhile: "Some of its patients were stored by someone else while it ran.",
        RowsChanged: "The file no longer reads as it did when it was checked.",
    }

    def check(self, upload, binary, on_bytes):
        # The checked rows, normalised, go beside the upload: the import loads them with COPY.
        with open(_normalized_path(upload), "w", encoding="utf-8", newline="") as normalized:
            return csv_validate(binary, practice=upload.practice, normalized=normalized, on_bytes=on_bytes)

    def apply(self, upload, progress):
        normalized = _normalized_path(upload)
        try:
            if connection.vendor == "postgresql" and normalized.exists():
                counts = patients_upsert_copy_file(practice=upload.practice, lines=_chunks(normalized),
                                                   skip_rows=upload.rejected_rows, progress=progress)
            else:
                with upload.file.open("rb") as binary:
                    counts = patients_upsert(
                        practice=upload.practice, progress=progress,
                        records=csv_records(binary, rejected_rows=upload.rejected_rows))
        except tuple(self.failures) as exc:
            raise UploadFailed(self.failures[type(exc)]) from exc
        return {"created": counts.created, "updated": counts.updated, "unchanged": counts.unchanged}

    def validate_later(self, upload_id):
        from .tasks import patient_import_validate_task

        patient_import_validate_task.delay(upload_id)

    def run_later(self, upload_id):
        from .tasks import patient_import_run_task

        patient_import_run_task.delay(upload_id)

    def finished(self, upload):
        _normalized_path(upload).unlink(missing_ok=True)


PATIENT_IMPORTS = PatientImports()


def patient_import_progress(*, patient_import: PatientImport) -> dict:
    """{"phase", "done", "total", "percent"} of a running validation or import."""
    return upload_progress(PATIENT_IMPORTS, patient_import)


def patient_import_create(*, practice, actor, upload) -> PatientImport:
    """Store an uploaded CSV file under MEDIA_ROOT and check it (now, or by the worker if large)."""
    return upload_create(PATIENT_IMPORTS, practice=practice, actor=actor, upload=upload)


def _normalized_path(patient_import: PatientImport) -> Path:
    """The checked rows, normalised, beside the upload: the import loads them with COPY."""
    return Path(patient_import.file.path).with_suffix(".rows")


def _chunks(path: Path):
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            yield chunk


def patient_import_validate(*, import_id: int) -> PatientImport:
    """Check the whole file; idempotent (only an import still being checked is checked)."""
    return upload_validate(PATIENT_IMPORTS, upload_id=import_id)


def patient_import_confirm(*, patient_import: PatientImport, actor, mode: str) -> PatientImport:
    """The admin's go: import all rows (only when none has an error) or the valid ones."""
    return upload_confirm(PATIENT_IMPORTS, upload=patient_import, actor=actor, mode=mode)


def patient_import_run(*, import_id: int) -> PatientImport:
    """Apply the confirmed rows, all or nothing (a task delivered twice imports once)."""
    return upload_run(PATIENT_IMPORTS, upload_id=import_id)


def patient_imports_sweep() -> str:
    """Fail the imports still checking or importing PATIENT_IMPORT_STUCK_SECONDS after they began
    (settings.DUE_WORK; see uploads.upload_sweep)."""
    return upload_sweep(PATIENT_IMPORTS, seconds=settings.PATIENT_IMPORT_STUCK_SECONDS)


def balances_changed_notify(*, practice_id: int, guarantor_ids: list[int], source: str) -> None:
    """Call every hook in settings.BALANCE_CHANGED_HOOKS for guarantors whose balance was just
    written (`source`: "pms_import", "payment", "refund"), inside the writer's transaction: the
    apps above (statements' dunning) react without this app importing them."""
    if not guarantor_ids:
        return
    for path in settings.BALANCE_CHANGED_HOOKS:
        import_string(path)(practice_id, list(guarantor_ids), source)


def patient_ensure(*, practice, external_id: str, first_name: str, last_name: str) -> Patient:
    """The practice's patient with this PMS id, created (as their own guarantor) when unknown.

    Used when another system (the financing provider) names a patient the PMS has not sent yet.
    An existing record is left as it is: the PMS stays the source of its details. One query for
    a known patient, two for a new one; a patient created meanwhile by another writer is found.
    """
    patient = Patient.objects.filter(practice=practice, external_id=external_id).first()
    if patient is not None:
        return patient
    patient = Patient(practice=practice, external_id=external_id, first_name=first_name[:100],
                      last_name=last_name[:100])
    with transaction.atomic(savepoint=False):
        if not insert_if_absent(patient, unique_fields=("practice", "external_id")):
            return Patient.objects.get(practice=practice, external_id=external_id)
        Patient.objects.filter(pk=patient.pk).update(guarantor=patient)
        patient.guarantor_id = patient.pk
    return patient
