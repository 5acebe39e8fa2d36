"""The life of an uploaded CSV file, shared by every import of one (patients, statement batches).

1. `upload_create`: the file is stored under MEDIA_ROOT with a random name (file names often
   carry a patient's or an office's name) and checked at once when small, or by the worker.
2. `upload_validate`: the whole file is checked (the kind's `check`); the upload becomes
   validated (rows to import), or invalid with the file's refusal or its row errors.
3. `upload_confirm`: the admin's go, all rows (only when none has an error) or the valid ones;
   run at once when few, or by the worker with a progress bar.
4. `upload_run`: the kind's `apply`, all or nothing, under a lock on the upload row: a task
   delivered twice, or retried after a crash, imports once. (A kind whose apply is all or
   nothing and idempotent by itself runs it outside that transaction: apply_in_transaction.)

A kind (`UploadKind`) says what differs: its model (a `CsvUpload`), how a file is checked and
applied, its tasks and its settings. Tasks get the upload's id, never the file's contents.
"""

import logging
import uuid
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction
from django.db.models import Q
from django.utils import timezone

from practices.services import audit_record

from .csv_import import FileRefused, ValidationReport
from .models import IMPORT_IN_PROGRESS, CsvUpload, ImportMode, ImportStatus

logger = logging.getLogger(__name__)


class UploadFailed(Exception):
    """`apply` could not import the file; the message says why (nothing was changed)."""


class UploadKind:
    model: type[CsvUpload]
    name = "import"  # the audit trail's actions ("patients.import_uploaded") and cache keys
    done_action = "imported"  # the audit trail's action once applied ("patients.imported")
    # Settings (declared in config/settings/base.py): files up to this size are checked, and up
    # to this many rows imported, in the web request; larger ones by the worker.
    inline_bytes_setting = "PATIENT_IMPORT_INLINE_BYTES"
    inline_rows_setting = "PATIENT_IMPORT_INLINE_ROWS"
    empty_message = "The file is empty (0 bytes)."
    # Whether `apply` runs inside upload_run's transaction, the upload row locked throughout:
    # all or nothing with the upload's status, and a second run waits. A kind whose apply
    # commits on its own and is idempotent by itself (a statement batch, by its batch_id) says
    # False: its apply runs outside any transaction of upload_run's, which then only marks the
    # upload done. (An open transaction that has locked a row holds back PostgreSQL's cleanup
    # of every row changed meanwhile: a statement batch's import ran a sixth slower under it.)
    apply_in_transaction = True

    def check(self, upload: CsvUpload, binary, on_bytes: Callable[[int], None]) -> ValidationReport:
        """Check the whole file; raise FileRefused when it is refused as a whole."""
        raise NotImplementedError

    def apply(self, upload: CsvUpload, progress: Callable[[int], None]) -> dict:
        """Import the confirmed rows, inside the caller's transaction (see apply_in_transaction);
        return the fields to save on the upload. Raise UploadFailed (or a DatabaseError) to
        change nothing."""
        raise NotImplementedError

    def validate_later(self, upload_id: int) -> None:
        raise NotImplementedError

    def run_later(self, upload_id: int) -> None:
        raise NotImplementedError

    def finished(self, upload: CsvUpload) -> None:
        """Called once the upload is over (invalid, done or failed): drop what check() kept."""

    def inline_limit(self, which: str) -> int:
        return getattr(settings, self.inline_bytes_setting if which == "bytes" else self.inline_rows_setting)


def _progress_key(kind: UploadKind, upload_id: int) -> str:
    return f"{kind.name}:{upload_id}:progress"


def upload_progress(kind: UploadKind, upload: CsvUpload) -> dict:
    """{"phase", "done", "total", "percent"} of a running check or import."""
    return cache.get(_progress_key(kind, upload.pk)) or {"phase": "", "done": 0, "total": 0, "percent": 0}


def _progress_set(kind: UploadKind, upload_id: int, phase: str, done: int, total: int) -> None:
    percent = min(100, int(done * 100 / total)) if total else 0
    cache.set(_progress_key(kind, upload_id), {"phase": phase, "done": done, "total": total,
                                               "percent": percent}, timeout=3600)


def upload_create(kind: UploadKind, *, practice, actor, upload, **fields) -> CsvUpload:
    """Store the file and check it (now, or by the worker if large)."""
    if upload.size == 0:
        raise ValidationError(kind.empty_message)
    row = kind.model(practice=practice, created_by=actor, original_name=upload.name[:255], size=upload.size,
                     **fields)
    row.file.save(f"{uuid.uuid4().hex}.csv", upload, save=False)  # under the model's upload_to
    row.save()
    audit_record(practice=practice, actor=actor, action=f"{kind.name}_uploaded", target=f"upload {row.pk}",
                 size=upload.size)
    if upload.size <= kind.inline_limit("bytes"):
        return upload_validate(kind, upload_id=row.pk)
    transaction.on_commit(lambda: kind.validate_later(row.pk))
    return row


def upload_validate(kind: UploadKind, *, upload_id: int) -> CsvUpload:
    """Check the whole file; idempotent (only an upload still being checked is checked)."""
    row = kind.model.objects.select_related("practice").get(pk=upload_id)
    if row.status != ImportStatus.VALIDATING:
        return row
    size = row.size
    changes = {"finished_at": None}
    try:
        with row.file.open("rb") as binary:
            report = kind.check(row, binary,
                                lambda n: _progress_set(kind, upload_id, "Checking rows", n, size))
    except FileRefused as exc:
        changes.update(status=ImportStatus.INVALID, file_error=str(exc))
    except Exception as exc:
        # Not the file's fault (storage, the database, a fault of ours): end the check and say so,
        # rather than stay "checking" for ever. The log names the exception, never a value.
        logger.error("%s %s: the check failed with %s", kind.name, upload_id, type(exc).__name__)
        changes.update(status=ImportStatus.FAILED, finished_at=timezone.now(), failure=(
            f"The file could not be checked ({type(exc).__name__}). Nothing was imported; upload it again."))
    else:
        changes.update(
            status=ImportStatus.VALIDATED if report.valid_rows else ImportStatus.INVALID,
            total_rows=report.total_rows, valid_rows=report.valid_rows, error_count=report.error_count,
            errors=report.errors, rejected_rows=report.rejected_rows, preview=report.preview)
    try:
        kind.model.objects.filter(pk=upload_id, status=ImportStatus.VALIDATING).update(**changes)
    except DatabaseError as exc:
        logger.error("%s %s: the check's result was not stored: %s", kind.name, upload_id,
                     type(exc).__name__)
        kind.model.objects.filter(pk=upload_id, status=ImportStatus.VALIDATING).update(
            status=ImportStatus.FAILED, finished_at=timezone.now(),
            failure="The result of the check could not be stored. Nothing was imported; upload the file "
                    "again.")
    cache.delete(_progress_key(kind, upload_id))
    row.refresh_from_db()
    if row.status in (ImportStatus.INVALID, ImportStatus.FAILED):
        kind.finished(row)
    return row


def upload_confirm(kind: UploadKind, *, upload: CsvUpload, actor, mode: str) -> CsvUpload:
    """The admin's go: import all rows (only when none has an error) or the valid ones."""
    if mode == ImportMode.ALL and upload.error_count:
        raise ValidationError(f"{upload.error_count} errors remain: fix the file, or import only the "
                              f"{upload.valid_rows} valid row{'' if upload.valid_rows == 1 else 's'}.")
    if mode not in ImportMode.values:
        raise ValidationError("Choose to import all rows or the valid rows.")
    claimed = kind.model.objects.filter(pk=upload.pk, status=ImportStatus.VALIDATED, valid_rows__gt=0).update(
        status=ImportStatus.QUEUED, mode=mode, confirmed_at=timezone.now())
    if not claimed:
        raise ValidationError("This file is not waiting for confirmation (already imported or refused).")
    audit_record(practice=upload.practice, actor=actor, action=f"{kind.name}_confirmed",
                 target=f"upload {upload.pk}", mode=mode)
    if upload.valid_rows <= kind.inline_limit("rows"):
        return upload_run(kind, upload_id=upload.pk)
    _progress_set(kind, upload.pk, "Waiting for the worker", 0, upload.valid_rows)
    transaction.on_commit(lambda: kind.run_later(upload.pk))
    upload.refresh_from_db()
    return upload


def template_response(*, filename: str, columns: list[tuple[str, str]], rows: list[list[str]]):
    """The downloadable template of an upload: its header row and example rows, as CSV."""
    import csv

    from django.http import HttpResponse

    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow([name for name, _ in columns])
    writer.writerows(rows)
    return response


def upload_confirm_request(kind: UploadKind, request, upload: CsvUpload) -> CsvUpload | None:
    """A view's confirmation of an upload (the admin's posted mode): the upload as it is after,
    or None with the reason in the request's messages."""
    from django.contrib import messages

    from .forms import ImportConfirmForm

    form = ImportConfirmForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose to import all rows or the valid rows.")
        return None
    try:
        return upload_confirm(kind, upload=upload, actor=request.user, mode=form.cleaned_data["mode"])
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return None


def upload_run(kind: UploadKind, *, upload_id: int) -> CsvUpload:
    """Apply the confirmed rows, all or nothing: the upload row stays locked for the whole
    transaction and its DONE status commits with the rows (or, for a kind whose apply commits on
    its own, once it has: see UploadKind.apply_in_transaction)."""
    try:
        if kind.apply_in_transaction:
            with transaction.atomic():
                row = _locked(kind, upload_id)
                if row.status != ImportStatus.QUEUED:
                    return row
                _done(kind, row, kind.apply(row, _importing(kind, row)))
        else:
            row = kind.model.objects.select_related("practice").get(pk=upload_id)
            if row.status != ImportStatus.QUEUED:
                return row
            fields = kind.apply(row, _importing(kind, row))
            with transaction.atomic():
                row = _locked(kind, upload_id)
                # Done, unless another run of it finished first. (The sweep may have failed a
                # run that outlived its limit meanwhile: the rows are in, so it is done.)
                if row.status not in (ImportStatus.QUEUED, ImportStatus.FAILED):
                    return row
                row.failure = ""
                _done(kind, row, fields)
    except Exception as exc:
        if isinstance(exc, UploadFailed):
            reason = str(exc)
        elif isinstance(exc, FileRefused):
            reason = "The file no longer reads as it did when it was checked."
        else:
            reason = f"The import stopped ({type(exc).__name__})."
        # The log names the exception only: a database error's text may quote a patient's row.
        logger.error("%s %s: the import failed with %s", kind.name, upload_id, type(exc).__name__)
        kind.model.objects.filter(pk=upload_id, status=ImportStatus.QUEUED).update(
            status=ImportStatus.FAILED, failure=reason + " Nothing was changed; upload the file again.",
            finished_at=timezone.now())
    cache.delete(_progress_key(kind, upload_id))
    row = kind.model.objects.get(pk=upload_id)
    if row.status in (ImportStatus.DONE, ImportStatus.FAILED):
        kind.finished(row)
    return row


def _locked(kind: UploadKind, upload_id: int) -> CsvUpload:
    # The upload's row only: with select_related, FOR UPDATE would lock the practice's row too,
    # and every insert that refers to the practice would wait for the whole import.
    return kind.model.objects.select_for_update(of=("self",)).select_related("practice").get(pk=upload_id)


def _importing(kind: UploadKind, row: CsvUpload) -> Callable[[int], None]:
    total, upload_id = row.valid_rows, row.pk
    return lambda n: _progress_set(kind, upload_id, "Importing rows", n, total)


def _done(kind: UploadKind, row: CsvUpload, fields: dict) -> None:
    for name, value in fields.items():
        setattr(row, name, value)
    row.status = ImportStatus.DONE
    row.finished_at = timezone.now()
    row.save()
    counts = {k: v for k, v in fields.items() if isinstance(v, int)}
    audit_record(practice=row.practice, actor=row.created_by, action=kind.done_action,
                 target=f"upload {row.pk}", **counts)


def upload_sweep(kind: UploadKind, *, seconds: int) -> str:
    """Fail the uploads still checking or importing `seconds` after they began (a task lost with
    its worker, no worker running): each ends `failed` with the reason instead of showing
    progress for ever. Runs with the due work (settings.DUE_WORK).

    An upload the worker is applying holds its row lock (upload_run): it is skipped, and ends by
    itself. (One whose kind applies outside that transaction holds no lock: past the limit it is
    failed, and marked done after all if its rows go in.)
    """
    cutoff = timezone.now() - timedelta(seconds=seconds)
    waited = f"{seconds // 60} minutes" if seconds % 60 == 0 else f"{seconds} seconds"
    reasons = {
        ImportStatus.VALIDATING: f"The check did not finish within {waited}.",
        ImportStatus.QUEUED: f"The import did not finish within {waited} (is the worker running?).",
    }
    with transaction.atomic():
        began_before = (Q(status=ImportStatus.VALIDATING, created_at__lt=cutoff)
                        | Q(status=ImportStatus.QUEUED, confirmed_at__lt=cutoff)
                        | Q(status=ImportStatus.QUEUED, confirmed_at__isnull=True, created_at__lt=cutoff))
        stuck = list(kind.model.objects.select_for_update(skip_locked=True)
                     .filter(began_before, status__in=IMPORT_IN_PROGRESS).values_list("pk", "status"))
        for status, reason in reasons.items():
            kind.model.objects.filter(pk__in=[pk for pk, s in stuck if s == status], status=status).update(
                status=ImportStatus.FAILED, failure=reason + " Nothing was changed; upload the file again.",
                finished_at=timezone.now())
    for pk, _ in stuck:
        cache.delete(_progress_key(kind, pk))
        row = kind.model.objects.filter(pk=pk).first()
        if row is not None and row.file:
            kind.finished(row)
    return f"{len(stuck)} stuck import{'' if len(stuck) == 1 else 's'} failed"
