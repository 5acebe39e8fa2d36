from celery import shared_task

from . import alerts


@shared_task(ignore_result=True)
def alerts_fire_due() -> dict:
    """Fire the alerts that are due (asked for by a recorded event); a second run fires nothing."""
    return alerts.alerts_due_fire()
