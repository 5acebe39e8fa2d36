"""Step 2 of a row's life: claiming due work, first on the due list, then the rows themselves."""

from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from ..models import WAITING_STATUSES, Notification, NotificationDue, Status
from ..sql import among, run, status_among

TABLE = Notification._meta.db_table
DUE_TABLE = NotificationDue._meta.db_table


def lease(seconds: int):
    return timezone.now() + timedelta(seconds=seconds)


def send_lease_seconds() -> int:
    return max(int(settings.NOTIFICATIONS_SEND_LEASE_SECONDS), int(settings.TWILIO_TIMEOUT) + 5)


def ids_in(ids: list[int]) -> tuple[str, list]:
    """`id IN (...)` for a list of ids (see sql.among)."""
    return among(f"{TABLE}.id", ids)


def claim_due(*, limit: int = 500) -> list[int]:
    """Claim up to `limit` due entries of the due list (the dispatcher's chunk); return the
    notification ids.

    Only the narrow due list changes: each entry's `due_at` moves a claim lease ahead, so the
    entry is not claimed again before then, and comes back by itself if the ids are lost
    (a broker that drops the task, a worker killed before it claimed them). The notification
    rows are claimed by the task that gets the ids (`claim_ids`). The locking SELECT is a
    materialized CTE so PostgreSQL runs it once; SKIP LOCKED lets two dispatchers claim side
    by side. SQLite has one writer at a time, so the UPDATE alone is enough.
    """
    now = timezone.now()
    if connection.vendor == "postgresql":
        lock = " FOR UPDATE SKIP LOCKED"
        among_due = "notification_id = ANY(ARRAY(SELECT notification_id FROM due))"
    else:
        lock, among_due = "", "notification_id IN (SELECT notification_id FROM due)"
    sql = (f"WITH due AS MATERIALIZED (SELECT notification_id FROM {DUE_TABLE} "  # noqa: S608
           f"WHERE due_at <= %s ORDER BY due_at LIMIT %s{lock}) "
           f"UPDATE {DUE_TABLE} SET due_at = %s WHERE {among_due} RETURNING notification_id")
    args = [now, int(limit), lease(settings.NOTIFICATIONS_CLAIM_LEASE_SECONDS)]
    return [row[0] for row in run(sql, args)]  # one statement: atomic on its own


def claim_ids(ids: list[int]) -> list[int]:
    """Claim those of `ids` that are waiting and due (in the task): `sending` with a claim lease,
    no attempt started. Their due-list entries go; an entry whose notification is not waiting
    any more goes too, and one whose notification waits for a later time gets that time back."""
    if not ids:
        return []
    now = timezone.now()
    where, id_args = ids_in(ids)
    waiting, status_args = status_among(WAITING_STATUSES)
    due_where, due_args = among("notification_id", ids)
    with transaction.atomic():
        claimed = [row[0] for row in run(
            f"UPDATE {TABLE} SET status = %s, lease_expires_at = %s, "  # noqa: S608
            f"attempt_started_at = NULL, updated_at = %s WHERE {where} "
            f"AND {waiting} AND send_at <= %s RETURNING id",
            [Status.SENDING, lease(settings.NOTIFICATIONS_CLAIM_LEASE_SECONDS), now, *id_args,
             *status_args, now])]
        run(f"DELETE FROM {DUE_TABLE} WHERE {due_where}", due_args)  # noqa: S608
        if len(claimed) < len(ids):
            run(f"INSERT INTO {DUE_TABLE} (notification_id, due_at) "  # noqa: S608
                f"SELECT id, send_at FROM {TABLE} WHERE {where} AND {waiting} "
                "ON CONFLICT (notification_id) DO UPDATE SET due_at = excluded.due_at",
                [*id_args, *status_args])
    return claimed
