"""Celery entry points: they take an upload's id and call the services."""

from celery import shared_task

from . import csv_batches


@shared_task(acks_late=True)
def statement_upload_validate_task(upload_id: int) -> str:
    return csv_batches.statement_upload_validate(upload_id=upload_id).status


@shared_task(acks_late=True)
def statement_upload_run_task(upload_id: int) -> str:
    return csv_batches.statement_upload_run(upload_id=upload_id).status
