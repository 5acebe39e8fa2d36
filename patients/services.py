"""Writes for patients: the API's bulk upsert and the CSV import's lifecycle."""

import logging
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from practices.services import audit_record

from .csv_import import FileRefused, RowsChanged, csv_records, csv_validate
from .guarantor_links import GuarantorLinks
from .models import IMPORT_IN_PROGRESS, ImportMode, ImportStatus, Patient, PatientImport
from .records import PatientRecord, record_from_json
from .upsert import (
    GuarantorUnresolved,
    StoredMeanwhile,
    UpsertCounts,
    patients_upsert,
    patients_upsert_copy_file,
)

BULK_LIMIT = 10_000

logger = logging.getLogger(__name__)


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


# --- CSV import ---

def _progress_key(import_id: int) -> str:
    return f"patients:import:{import_id}:progress"


def patient_import_progress(*, patient_import: PatientImport) -> dict:
    """{"phase", "done", "total", "percent"} of a running validation or import."""
    return cache.get(_progress_key(patient_import.pk)) or {"phase": "", "done": 0, "total": 0, "percent": 0}


def _progress_set(import_id: int, phase: str, done: int, total: int) -> None:
    percent = min(100, int(done * 100 / total)) if total else 0
    cache.set(_progress_key(import_id), {"phase": phase, "done": done, "total": total, "percent": percent},
              timeout=3600)


def patient_import_create(*, practice, actor, upload) -> PatientImport:
    """Store an uploaded CSV file under MEDIA_ROOT and check it (now, or by the worker if large)."""
    from .tasks import patient_import_validate_task

    if upload.size == 0:
        raise ValidationError("The file is empty (0 bytes). Export the patients from your "
                              "practice-management system again, or start from the template.")
    patient_import = PatientImport(practice=practice, created_by=actor, original_name=upload.name[:255],
                                   size=upload.size)
    # The stored name is random: file names often carry a patient's or an office's name.
    patient_import.file.save(f"{uuid.uuid4().hex}.csv", upload, save=False)
    patient_import.save()
    audit_record(practice=practice, actor=actor, action="patients.import_uploaded",
                 target=f"import {patient_import.pk}", size=upload.size)
    if upload.size <= settings.PATIENT_IMPORT_INLINE_BYTES:
        return patient_import_validate(import_id=patient_import.pk)
    transaction.on_commit(lambda: patient_import_validate_task.delay(patient_import.pk))
    return patient_import


def _normalized_path(patient_import: PatientImport) -> Path:
    """The checked rows, normalised, beside the upload: the import loads them with COPY."""
    return Path(patient_import.file.path).with_suffix(".rows")


def _chunks(path: Path):
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            yield chunk


def patient_import_validate(*, import_id: int) -> PatientImport:
    """Check the whole file; idempotent (only an import still being checked is checked)."""
    patient_import = PatientImport.objects.select_related("practice").get(pk=import_id)
    if patient_import.status != ImportStatus.VALIDATING:
        return patient_import
    size = patient_import.size
    changes = {"finished_at": None}
    try:
        with (patient_import.file.open("rb") as binary,
              open(_normalized_path(patient_import), "w", encoding="utf-8", newline="") as normalized):
            report = csv_validate(binary, practice=patient_import.practice, normalized=normalized,
                                  on_bytes=lambda n: _progress_set(import_id, "Checking rows", n, size))
    except FileRefused as exc:
        changes.update(status=ImportStatus.INVALID, file_error=str(exc))
    except Exception as exc:
        # Not the file's fault (storage, the database, a fault of ours): end the check and say so,
        # rather than stay "checking" for ever. The log names the exception, never a value.
        logger.error("patient import %s: the check failed with %s", import_id, type(exc).__name__)
        changes.update(status=ImportStatus.FAILED, finished_at=timezone.now(), failure=(
            f"The file could not be checked ({type(exc).__name__}). Nothing was imported; upload it "
            "again."))
    else:
        changes.update(
            status=ImportStatus.VALIDATED if report.valid_rows else ImportStatus.INVALID,
            total_rows=report.total_rows, valid_rows=report.valid_rows, error_count=report.error_count,
            errors=report.errors, rejected_rows=report.rejected_rows, preview=report.preview)
    try:
        PatientImport.objects.filter(pk=import_id, status=ImportStatus.VALIDATING).update(**changes)
    except DatabaseError as exc:
        logger.error("patient import %s: the check's result was not stored: %s", import_id,
                     type(exc).__name__)
        PatientImport.objects.filter(pk=import_id, status=ImportStatus.VALIDATING).update(
            status=ImportStatus.FAILED, finished_at=timezone.now(),
            failure="The result of the check could not be stored. Nothing was imported; upload the file "
                    "again.")
    cache.delete(_progress_key(import_id))
    patient_import.refresh_from_db()
    if patient_import.status in (ImportStatus.INVALID, ImportStatus.FAILED):
        _normalized_path(patient_import).unlink(missing_ok=True)
    return patient_import


def patient_import_confirm(*, patient_import: PatientImport, actor, mode: str) -> PatientImport:
    """The admin's go: import all rows (only when none has an error) or the valid ones."""
    from .tasks import patient_import_run_task

    if mode == ImportMode.ALL and patient_import.error_count:
        raise ValidationError(f"{patient_import.error_count} errors remain: fix the file, or import "
                              f"only the {patient_import.valid_rows} valid "
                              f"row{'' if patient_import.valid_rows == 1 else 's'}.")
    if mode not in ImportMode.values:
        raise ValidationError("Choose to import all rows or the valid rows.")
    claimed = PatientImport.objects.filter(pk=patient_import.pk, status=ImportStatus.VALIDATED,
                                           valid_rows__gt=0).update(status=ImportStatus.QUEUED, mode=mode,
                                                                    confirmed_at=timezone.now())
    if not claimed:
        raise ValidationError("This file is not waiting for confirmation (already imported or refused).")
    audit_record(practice=patient_import.practice, actor=actor, action="patients.import_confirmed",
                 target=f"import {patient_import.pk}", mode=mode)
    if patient_import.valid_rows <= settings.PATIENT_IMPORT_INLINE_ROWS:
        return patient_import_run(import_id=patient_import.pk)
    _progress_set(patient_import.pk, "Waiting for the worker", 0, patient_import.valid_rows)
    transaction.on_commit(lambda: patient_import_run_task.delay(patient_import.pk))
    patient_import.refresh_from_db()
    return patient_import


def patient_import_run(*, import_id: int) -> PatientImport:
    """Apply the confirmed rows, all or nothing.

    The import row is locked for the whole transaction and its DONE status commits with the
    patients, so a task delivered twice (or retried after a crash) imports exactly once.
    """
    try:
        with transaction.atomic():
            patient_import = (PatientImport.objects.select_for_update().select_related("practice")
                              .get(pk=import_id))
            if patient_import.status != ImportStatus.QUEUED:
                return patient_import
            total = patient_import.valid_rows

            def progress(n):
                _progress_set(import_id, "Importing rows", n, total)

            normalized = _normalized_path(patient_import)
            if connection.vendor == "postgresql" and normalized.exists():
                counts = patients_upsert_copy_file(
                    practice=patient_import.practice, lines=_chunks(normalized),
                    skip_rows=patient_import.rejected_rows, progress=progress)
            else:
                with patient_import.file.open("rb") as binary:
                    counts = patients_upsert(
                        practice=patient_import.practice, progress=progress,
                        records=csv_records(binary, rejected_rows=patient_import.rejected_rows))
            patient_import.status = ImportStatus.DONE
            patient_import.created, patient_import.updated = counts.created, counts.updated
            patient_import.unchanged = counts.unchanged
            patient_import.finished_at = timezone.now()
            patient_import.save()
            audit_record(practice=patient_import.practice, actor=patient_import.created_by,
                         action="patients.imported", target=f"import {import_id}",
                         created=counts.created, updated=counts.updated, unchanged=counts.unchanged)
    except Exception as exc:
        failure = {
            GuarantorUnresolved: "Some guarantors were removed or changed since the file was checked.",
            StoredMeanwhile: "Some of its patients were stored by someone else while it ran.",
            RowsChanged: "The file no longer reads as it did when it was checked.",
            FileRefused: "The file no longer reads as it did when it was checked.",
        }.get(type(exc), f"The import stopped ({type(exc).__name__}).")
        # The log names the exception only: a database error's text may quote a patient's row.
        logger.error("patient import %s: the import failed with %s", import_id, type(exc).__name__)
        PatientImport.objects.filter(pk=import_id, status=ImportStatus.QUEUED).update(
            status=ImportStatus.FAILED, failure=failure + " Nothing was changed; upload the file again.",
            finished_at=timezone.now())
    cache.delete(_progress_key(import_id))
    patient_import = PatientImport.objects.get(pk=import_id)
    if patient_import.status in (ImportStatus.DONE, ImportStatus.FAILED):
        _normalized_path(patient_import).unlink(missing_ok=True)
    return patient_import


def patient_imports_sweep() -> str:
    """Fail the imports still checking or importing PATIENT_IMPORT_STUCK_SECONDS after they
    began (a task lost with its worker, no worker running): each ends `failed` with the reason
    instead of showing progress for ever. Runs with the due work (settings.DUE_WORK).

    An import the worker is applying holds its row lock: it is skipped, and ends by itself.
    """
    limit = settings.PATIENT_IMPORT_STUCK_SECONDS
    cutoff = timezone.now() - timedelta(seconds=limit)
    waited = f"{limit // 60} minutes" if limit % 60 == 0 else f"{limit} seconds"
    reasons = {
        ImportStatus.VALIDATING: f"The check did not finish within {waited}.",
        ImportStatus.QUEUED: f"The import did not finish within {waited} (is the worker running?).",
    }
    with transaction.atomic():
        began_before = (Q(status=ImportStatus.VALIDATING, created_at__lt=cutoff)
                        | Q(status=ImportStatus.QUEUED, confirmed_at__lt=cutoff)
                        | Q(status=ImportStatus.QUEUED, confirmed_at__isnull=True, created_at__lt=cutoff))
        stuck = list(PatientImport.objects.select_for_update(skip_locked=True)
                     .filter(began_before, status__in=IMPORT_IN_PROGRESS).values_list("pk", "status"))
        for status, reason in reasons.items():
            PatientImport.objects.filter(pk__in=[pk for pk, s in stuck if s == status], status=status).update(
                status=ImportStatus.FAILED, failure=reason + " Nothing was changed; upload the file again.",
                finished_at=timezone.now())
    for pk, _ in stuck:
        cache.delete(_progress_key(pk))
        patient_import = PatientImport.objects.filter(pk=pk).only("file").first()
        if patient_import is not None and patient_import.file:
            _normalized_path(patient_import).unlink(missing_ok=True)
    return f"{len(stuck)} stuck import{'' if len(stuck) == 1 else 's'} failed"


def patient_ensure(*, practice, external_id: str, first_name: str, last_name: str) -> Patient:
    """The practice's patient with this PMS id, created (as their own guarantor) when unknown.

    Used when another system (the financing provider) names a patient the PMS has not sent yet.
    An existing record is left as it is: the PMS stays the source of its details.
    """
    with transaction.atomic():
        patient, created = Patient.objects.get_or_create(
            practice=practice, external_id=external_id,
            defaults={"first_name": first_name[:100], "last_name": last_name[:100]})
        if created:
            Patient.objects.filter(pk=patient.pk).update(guarantor=patient)
            patient.guarantor_id = patient.pk
    return patient


def balances_changed_notify(*, practice_id: int, guarantor_ids: list[int], source: str) -> None:
    """Call every hook in settings.BALANCE_CHANGED_HOOKS as hook(practice_id, guarantor_ids, source).

    Called inside the writer's transaction, after the balances were written, so what a hook
    does (stopping the dunning of a paid balance) commits or rolls back with them. `source` is
    "pms_import", "payment" or "refund". Apps above this one register hooks in settings rather
    than being imported here.
    """
    from django.utils.module_loading import import_string

    for path in settings.BALANCE_CHANGED_HOOKS:
        import_string(path)(practice_id, list(guarantor_ids), source)
