"""A statement batch uploaded as a CSV file, on the patient import's upload mechanism
(patients/uploads.py): stored, checked row by row with a preview, confirmed by an admin, then
taken in by the same ingestion as the API (rows that fail are rejected there as they were here).
"""

from collections.abc import Callable

from django.conf import settings

from config.sql import pipelined
from notifications.sql import among
from patients.csv_import import PREVIEW_ROWS, FileRefused, ValidationReport, csv_rows
from patients.models import Patient
from patients.records import collector_paused
from patients.uploads import (
    UploadFailed,
    UploadKind,
    upload_confirm,
    upload_create,
    upload_progress,
    upload_run,
    upload_sweep,
    upload_validate,
)

from .ingest import BatchConflict, ProfileUnknown, batch_id_clean
from .models import BatchSource, StatementBatch, StatementUpload
from .records import FIELDS, record_check
from .services import statement_batch_receive

_LOOKUP = 5000
_PATIENTS = Patient._meta.db_table
_HEADER = {"columns": FIELDS, "required": FIELDS, "noun": "statement"}


def _items(binary, on_bytes=None):
    """(row number, values) of every row; a row of the wrong width as its problem."""
    for row in csv_rows(binary, on_bytes=on_bytes, **_HEADER):
        yield row.number, row.values


def _receive(upload, progress):
    try:
        with upload.file.open("rb") as binary:
            return statement_batch_receive(
                practice=upload.practice, batch_id=upload.batch_id, profile_slug=upload.profile.slug,
                items=_items(binary), source=BatchSource.CSV, actor=upload.created_by, progress=progress)
    except BatchConflict:
        raise UploadFailed(f"A batch {upload.batch_id!r} with other statements was received while this "
                           "file waited.") from None
    except ProfileUnknown:
        raise UploadFailed("The profile was removed while this file waited.") from None


class StatementUploads(UploadKind):
    model = StatementUpload
    name, done_action = "statements.csv_batch", "statements.csv_batch_imported"
    inline_bytes_setting = "STATEMENT_UPLOAD_INLINE_BYTES"
    inline_rows_setting = "STATEMENT_UPLOAD_INLINE_ROWS"
    apply_in_transaction = False  # a batch is all or nothing by itself, and a repeat changes nothing
    empty_message = ("The file is empty (0 bytes). Export the statements from your practice-management "
                     "system again, or start from the template.")

    def check(self, upload, binary, on_bytes) -> ValidationReport:
        with collector_paused():  # see patients/records/gc_pause.py
            return self._check(upload, binary, on_bytes)

    def _check(self, upload, binary, on_bytes) -> ValidationReport:
        if StatementBatch.objects.filter(practice=upload.practice, batch_id=upload.batch_id).exists():
            raise FileRefused(f"A batch {upload.batch_id!r} was already received. Give this file "
                              "its own batch id.")
        report = ValidationReport()
        rejected: dict[int, list] = {}
        first_at: dict[str, int] = {}
        lookups: list[tuple[list[tuple[int, str]], Callable]] = []
        valid: list[tuple[int, str]] = []
        # Each 5,000 valid rows' guarantors are looked up as soon as they are read (one array
        # parameter each: an IN list of 5,000 placeholders costs more to send and plan than to
        # run), the database answering while the next rows are checked.
        with pipelined() as send:
            for number, values in _items(binary, on_bytes):
                report.total_rows += 1
                if len(report.preview) < PREVIEW_ROWS:
                    report.preview.append({"row": number, "values": [values.get(f, "") for f in FIELDS]})
                record, errors = record_check(number, values)
                if record is None:
                    rejected[number] = errors
                    continue
                seen = first_at.setdefault(record.guarantor_external_id, number)
                if seen != number:
                    rejected[number] = [("guarantor_external_id", f"{record.guarantor_external_id!r} "
                                                                  f"appears again (first at row {seen})")]
                    continue
                valid.append((number, record.guarantor_external_id))
                if len(valid) == _LOOKUP:
                    lookups.append((valid, self._look_up(send, upload, valid)))
                    valid = []
            if valid:
                lookups.append((valid, self._look_up(send, upload, valid)))
            for chunk, rows in lookups:
                found = {e: pk == g for e, pk, g in rows()}
                for number, external_id in chunk:
                    if external_id not in found:
                        rejected[number] = [("guarantor_external_id", f"unknown guarantor {external_id!r}")]
                    elif not found[external_id]:
                        rejected[number] = [("guarantor_external_id",
                                             f"{external_id!r} is not a guarantor (their own guarantor)")]
        return report.finish(rejected)

    @staticmethod
    def _look_up(send, upload, chunk: list[tuple[int, str]]) -> Callable:
        where, ids = among("external_id", [e for _, e in chunk], array_type="varchar")
        return send(f"SELECT external_id, id, guarantor_id FROM {_PATIENTS} "  # noqa: S608
                    f"WHERE practice_id = %s AND {where}", [upload.practice.pk, *ids])

    def apply(self, upload, progress) -> dict:
        # Outside upload_run's transaction (apply_in_transaction): the batch commits by itself,
        # writing beside itself and committing its superseding after itself (ingest.py). A
        # second run of the upload finds the batch stored: a repeat, nothing changes.
        return {"received_batch": _receive(upload, progress).batch}

    def validate_later(self, upload_id):
        from .tasks import statement_upload_validate_task

        statement_upload_validate_task.delay(upload_id)

    def run_later(self, upload_id):
        from .tasks import statement_upload_run_task

        statement_upload_run_task.delay(upload_id)


STATEMENT_UPLOADS = StatementUploads()


def statement_upload_create(*, practice, actor, upload, batch_id: str, profile) -> StatementUpload:
    """Store an uploaded statement file and check it (now, or by the worker if large)."""
    batch_id = batch_id_clean(batch_id)
    return upload_create(STATEMENT_UPLOADS, practice=practice, actor=actor, upload=upload, batch_id=batch_id,
                         profile=profile)


def statement_upload_validate(*, upload_id: int) -> StatementUpload:
    return upload_validate(STATEMENT_UPLOADS, upload_id=upload_id)


def statement_upload_confirm(*, upload: StatementUpload, actor, mode: str) -> StatementUpload:
    return upload_confirm(STATEMENT_UPLOADS, upload=upload, actor=actor, mode=mode)


def statement_upload_run(*, upload_id: int) -> StatementUpload:
    return upload_run(STATEMENT_UPLOADS, upload_id=upload_id)


def statement_upload_progress(*, upload: StatementUpload) -> dict:
    return upload_progress(STATEMENT_UPLOADS, upload)


def statement_uploads_sweep() -> str:
    """Fail the batch uploads still checking or importing PATIENT_IMPORT_STUCK_SECONDS after they
    began (settings.DUE_WORK; see patients.uploads.upload_sweep)."""
    return upload_sweep(STATEMENT_UPLOADS, seconds=settings.PATIENT_IMPORT_STUCK_SECONDS)
