from celery import shared_task

from config.health import beat_heartbeat_record

from . import emails
from .due_work import due_work_run as _due_work_run


@shared_task(ignore_result=False)
def due_work_run() -> dict:
    """Beat entry point: timers, queued sends and reclaims (the same as `manage.py send_due`).
    Records beat's heartbeat first, which /healthz reads."""
    beat_heartbeat_record()
    return _due_work_run()


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def team_invite_send(invitation_id: int) -> None:
    emails.team_invite_send(invitation_id=invitation_id)
