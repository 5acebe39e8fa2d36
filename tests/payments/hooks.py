"""Balance-changed hooks registered in settings by tests (override_settings), as the statements
app registers its own: they run for real inside the writer's transaction."""

from django.db import connection

from notifications.models import WAITING_STATUSES, Notification, ReasonCode
from notifications.services import notification_cancel
from patients.models import Balance

CALLS: list[dict] = []


def record(practice_id: int, guarantor_ids: list[int], source: str) -> None:
    """Remember each call, what the balances were when it ran, and whether it ran in a transaction."""
    CALLS.append({"practice_id": practice_id, "guarantor_ids": list(guarantor_ids), "source": source,
                  "in_transaction": connection.in_atomic_block,
                  "totals": dict(Balance.objects.filter(guarantor_id__in=guarantor_ids)
                                 .values_list("guarantor_id", "total"))})


def stop_dunning(practice_id: int, guarantor_ids: list[int], source: str) -> None:
    """What the dunning stop does: a covered balance's unsent balance messages will not send."""
    paid = Balance.objects.filter(guarantor_id__in=guarantor_ids, total__lte=0).values_list("guarantor_id")
    for notification in Notification.objects.filter(
            practice_id=practice_id, recipient_kind="patient", recipient_id__in=paid,
            kind="balance_dunning", status__in=WAITING_STATUSES):
        notification_cancel(notification=notification, reason_code=ReasonCode.BALANCE_PAID)


def explode(practice_id: int, guarantor_ids: list[int], source: str) -> None:
    raise RuntimeError("a hook failed")
