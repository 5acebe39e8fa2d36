"""Celery entry points: they take an import's id and call the services."""

from celery import shared_task

from . import services


@shared_task(acks_late=True)
def patient_import_validate_task(import_id: int) -> str:
    return services.patient_import_validate(import_id=import_id).status


@shared_task(acks_late=True)
def patient_import_run_task(import_id: int) -> str:
    return services.patient_import_run(import_id=import_id).status
