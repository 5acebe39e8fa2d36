from celery import shared_task

from . import dispatch


@shared_task(ignore_result=True, acks_late=True)
def notifications_deliver(notification_ids: list[int]) -> dict:
    """Send a chunk of notifications: ids only; a second run of the same chunk sends nothing."""
    return dispatch.deliver(notification_ids)
