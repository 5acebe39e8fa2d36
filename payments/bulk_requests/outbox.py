"""Payment-request messages into the outbox, many at once: a few statements per chunk, never a
call per row.

`payment_requests_schedule` writes what `notifications.services.notification_schedule` writes
for each message (the row with its idempotency key, its first status event, its entry on the
due list; due-now rows handed to Celery when the transaction commits), set-based:

- PostgreSQL, per chunk of 2,000: one statement, `WITH v AS (SELECT * FROM unnest(<an array
  per column>)), ins AS (INSERT INTO the notifications ... ON CONFLICT (idempotency_key) DO
  NOTHING RETURNING id, send_at), ev AS (INSERT INTO the events ... FROM ins) INSERT INTO the
  due list ... FROM ins RETURNING ...`.
- Other databases (SQLite): bulk inserts of the rows, their events and their due entries.

`payment_requests_cancel` stops the unsent ones among given keys (waiting, or claimed with no
provider call begun): `will_not_send` with the reason, off the due list, one event each.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice

from django.db import connection, transaction
from django.utils import timezone

from notifications.dispatch import enqueue_on_commit
from notifications.models import (
    WAITING_STATUSES,
    Notification,
    NotificationDue,
    NotificationEvent,
    ReasonCode,
    Status,
)
from notifications.sql import run

from ..bulk_insert import run_arrays

KIND = "payment_request"
ADDON = "online_payments"
CHUNK = 2000

_TABLE = Notification._meta.db_table
_EVENTS = NotificationEvent._meta.db_table
_DUE = NotificationDue._meta.db_table


@dataclass(frozen=True, slots=True)
class RequestMessage:
    """One payment-request message to a guarantor, rendered."""

    recipient_id: int
    recipient_name: str
    recipient_time_zone: str
    consent: bool
    channel: str  # sms or email
    address: str
    subject: str
    body: str
    idempotency_key: str
    send_at: datetime
    reason: str
    template_name: str
    template_version: str


_COLUMNS = ("recipient_id", "recipient_name", "recipient_time_zone", "consent", "channel", "address",
            "subject", "body", "idempotency_key", "send_at", "reason", "template_name", "template_version")
_TYPES = ("bigint", "varchar", "varchar", "boolean", "varchar", "varchar", "varchar", "text", "varchar",
          "timestamptz", "varchar", "varchar", "varchar")
_ARRAYS = ", ".join(f"%b::{t}[]" for t in _TYPES)  # %b: each column's array is sent in binary
_PG_INSERT = " ".join([  # composed from the constants above, no input
    f"WITH v ({', '.join(_COLUMNS)}) AS (SELECT * FROM unnest({_ARRAYS})),",  # noqa: S608
    f"ins AS (INSERT INTO {_TABLE} (practice_id, recipient_kind, kind, addon, html_body, status,",
    "reason_code, attempts, sender, provider_message_id, last_error, archived, created_at, updated_at,",
    "first_due_at,",
    f"{', '.join(_COLUMNS)}) SELECT %s, 'patient', %s, %s, '', %s, '', 0, '', '', '', false, %s, %s,",
    f"v.send_at, {', '.join('v.' + c for c in _COLUMNS)} FROM v",
    "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id, send_at),",
    f"ev AS (INSERT INTO {_EVENTS} (notification_id, status, reason_code, detail, created_at)",
    "SELECT id, %s, '', CASE WHEN send_at <= %s THEN 'due now' ELSE 'due ' ||",
    "to_char(send_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') || ' UTC' END, %s FROM ins)",
    f"INSERT INTO {_DUE} (notification_id, due_at) SELECT id, send_at FROM ins",  # noqa: S608
    "RETURNING notification_id, due_at",
])


def _chunks(rows, size):
    it = iter(rows)
    while chunk := list(islice(it, size)):
        yield chunk


def _due(message: RequestMessage, now: datetime) -> datetime:
    return message.send_at if message.send_at > now else now


def _insert_postgresql(practice_id: int, rows: list[RequestMessage], now: datetime) -> list[tuple]:
    columns = [[getattr(m, c) for m in rows] for c in _COLUMNS]
    columns[_COLUMNS.index("send_at")] = [_due(m, now).astimezone(UTC) for m in rows]
    return run_arrays(_PG_INSERT, [*columns, practice_id, KIND, ADDON, Status.QUEUED, now, now,
                                   Status.QUEUED, now, now])


def _detail(due: datetime, now: datetime) -> str:
    return "due now" if due <= now else f"due {due.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def _insert_generic(practice_id: int, rows: list[RequestMessage], now: datetime) -> list[tuple]:
    stored = set(Notification.objects.filter(idempotency_key__in=[m.idempotency_key for m in rows])
                 .values_list("idempotency_key", flat=True))
    made = Notification.objects.bulk_create([
        Notification(practice_id=practice_id, recipient_kind="patient", kind=KIND, addon=ADDON,
                     first_due_at=_due(m, now), status=Status.QUEUED,
                     **{c: getattr(m, c) for c in _COLUMNS if c != "send_at"}, send_at=_due(m, now))
        for m in rows if m.idempotency_key not in stored], batch_size=500)
    NotificationEvent.objects.bulk_create([
        NotificationEvent(notification_id=n.pk, status=Status.QUEUED, created_at=now,
                          detail=_detail(n.send_at, now))
        for n in made], batch_size=500)
    NotificationDue.objects.bulk_create([NotificationDue(notification_id=n.pk,
                                                         due_at=n.send_at) for n in made],
                                        batch_size=500)
    return [(n.pk, n.send_at) for n in made]


def payment_requests_schedule(*, practice, messages: list[RequestMessage]) -> int:
    """Queue the messages (see the module's docstring); returns how many rows were created.
    Keys already stored keep their rows. Run inside the caller's transaction."""
    now = timezone.now()
    created = 0
    insert = _insert_postgresql if connection.vendor == "postgresql" else _insert_generic
    with transaction.atomic():
        for rows in _chunks(messages, CHUNK):
            for pk, due_at in insert(practice.pk, rows, now):
                created += 1
                if due_at <= now:
                    enqueue_on_commit(pk)
    return created


def payment_requests_cancel(*, practice_id: int, keys: list[str], reason_code: str, detail: str = "") -> int:
    """Stop the unsent messages among `keys` (will not send, with the reason); returns how many."""
    detail = (detail or ReasonCode(reason_code).label.lower())[:500]
    now = timezone.now()
    stopped = 0
    with transaction.atomic():
        for part in _chunks(keys, CHUNK):
            marks = ", ".join(["%s"] * len(part))
            waiting = ", ".join(["%s"] * len(WAITING_STATUSES))
            rows = run(f"UPDATE {_TABLE} SET status = %s, reason_code = %s, lease_expires_at = NULL, "  # noqa: S608
                       f"updated_at = %s WHERE practice_id = %s AND idempotency_key IN ({marks}) "
                       f"AND (status IN ({waiting}) OR (status = %s AND attempt_started_at IS NULL)) "
                       "RETURNING id",
                       [Status.WILL_NOT_SEND, reason_code, now, practice_id, *part, *WAITING_STATUSES,
                        Status.SENDING])
            ids = [row[0] for row in rows]
            if ids:
                NotificationDue.objects.filter(notification_id__in=ids).delete()
                NotificationEvent.objects.bulk_create(
                    [NotificationEvent(notification_id=pk, status=Status.WILL_NOT_SEND,
                                       reason_code=reason_code,
                                       detail=detail, created_at=now) for pk in ids], batch_size=500)
            stopped += len(ids)
    return stopped
