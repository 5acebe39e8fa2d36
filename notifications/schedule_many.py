"""Queue many outbox rows in one statement: `notification_schedule`'s guarantees, set-based.

For callers that send one message to several recipients at once (an alert to a whole team):

1. Every row is checked as `notification_schedule` checks it before anything is written; a bad
   row refuses the call, naming its position.
2. The idempotency key is unique: a key already stored leaves its row as it is (counted as
   existing); a key stored by another practice is an error, as the caller built it wrongly.
3. A `send_at` that is absent or past means now. Every new row gets its first status event and
   its due-list entry, in the same statement as the row itself on PostgreSQL.
4. Rows due now are handed to Celery when the caller's transaction commits.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from .models import Notification, NotificationDue, NotificationEvent, Status

_TABLE = Notification._meta.db_table
_EVENTS = NotificationEvent._meta.db_table
_DUE = NotificationDue._meta.db_table


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to queue: what `notification_schedule` takes, as a value."""

    recipient_kind: str
    recipient_id: int
    channel: str
    address: str
    kind: str
    body: str
    idempotency_key: str
    recipient_name: str = ""
    recipient_time_zone: str = ""
    consent: bool = True
    subject: str = ""
    html_body: str = ""
    send_at: datetime | None = None
    reason: str = ""
    template_name: str = ""
    template_version: str = ""
    addon: str = ""  # "" means no add-on is needed


@dataclass
class ScheduleResult:
    created: int = 0
    existing: int = 0
    created_ids: list[int] = field(default_factory=list)


_COLUMNS = ("recipient_kind", "recipient_id", "recipient_name", "recipient_time_zone", "consent",
            "channel", "address", "kind", "reason", "addon", "subject", "body", "html_body",
            "template_name", "template_version", "idempotency_key", "send_at")
_TYPES = ("varchar", "bigint", "varchar", "varchar", "boolean", "varchar", "varchar", "varchar",
          "varchar", "varchar", "varchar", "text", "text", "varchar", "varchar", "varchar",
          "timestamptz")
_KEY_AT, _SEND_AT = _COLUMNS.index("idempotency_key"), _COLUMNS.index("send_at")
# The columns a new row starts with besides the message's own.
_START = ("practice_id", "first_due_at", "status", "reason_code", "attempts", "sender",
          "provider_message_id", "last_error", "archived", "created_at", "updated_at")

# One array parameter per column: the statement text is the same for any number of rows.
_PG_INSERT = " ".join([  # composed from the constant names above, no input
    f"WITH v ({', '.join(_COLUMNS)}) AS (SELECT * FROM unnest({', '.join(f'%s::{t}[]' for t in _TYPES)})),",  # noqa: S608
    f"ins AS (INSERT INTO {_TABLE} ({', '.join(_COLUMNS)}, {', '.join(_START)})",
    f"SELECT {', '.join('v.' + c for c in _COLUMNS)}, %s, v.send_at, %s, '', 0, '', '', '', false, %s, %s",
    "FROM v ON CONFLICT (idempotency_key) DO NOTHING RETURNING id, idempotency_key, send_at),",
    f"ev AS (INSERT INTO {_EVENTS} (notification_id, status, reason_code, detail, created_at)",
    "SELECT id, %s, '', CASE WHEN send_at = %s THEN 'due now' ELSE 'due ' ||",
    "to_char(send_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') || ' UTC' END, %s FROM ins),",
    f"du AS (INSERT INTO {_DUE} (notification_id, due_at) SELECT id, send_at FROM ins)",  # noqa: S608
    "SELECT id, idempotency_key, send_at FROM ins",
])


def _values(row: Outgoing, now: datetime) -> tuple:
    """The row's columns in _COLUMNS order, trimmed to their sizes, `send_at` made due."""
    send_at = row.send_at if row.send_at is not None and row.send_at > now else now
    return (row.recipient_kind, row.recipient_id, row.recipient_name[:200], row.recipient_time_zone,
            row.consent, row.channel, (row.address or "").strip()[:254], row.kind, row.reason[:200],
            row.addon or "", row.subject[:500], row.body, row.html_body, row.template_name[:100],
            row.template_version[:40], row.idempotency_key, send_at.astimezone(UTC))


def _check(rows: list[Outgoing]) -> None:
    from .services import Recipient, _validate

    for position, row in enumerate(rows):
        try:
            _validate(recipient=Recipient(kind=row.recipient_kind, id=row.recipient_id),
                      channel=row.channel, kind=row.kind, idempotency_key=row.idempotency_key,
                      addon=row.addon or None, time_zone=row.recipient_time_zone)
        except ValidationError as exc:
            raise ValidationError({name: f"message {position}: {' '.join(messages)}"
                                   for name, messages in exc.message_dict.items()}) from None


def _run(sql: str, params: list) -> list[tuple]:
    # Django's cursor: these few rows gain nothing from server-side binding, and the statement
    # shows in query counts like any other. Datetimes are stored as the ORM stores them.
    if connection.vendor != "postgresql":
        params = [connection.ops.adapt_datetimefield_value(p) if isinstance(p, datetime) else p
                  for p in params]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _insert(practice_id: int, values: list[tuple], now: datetime) -> list[tuple]:
    """Insert the rows whose key is new; (id, key, send_at) of each row created."""
    if connection.vendor == "postgresql":
        columns = [list(column) for column in zip(*values, strict=True)]
        return _run(_PG_INSERT, [*columns, practice_id, Status.QUEUED, now, now, Status.QUEUED, now, now])
    row_sql = "(" + ", ".join(["%s"] * (len(_COLUMNS) + len(_START))) + ")"
    params = []
    for v in values:
        params += [*v, practice_id, v[_SEND_AT], Status.QUEUED, "", 0, "", "", "", False, now, now]
    created = [(pk, key, _aware(at)) for pk, key, at in _run(
        f"INSERT INTO {_TABLE} ({', '.join(_COLUMNS)}, {', '.join(_START)}) "  # noqa: S608
        f"VALUES {', '.join([row_sql] * len(values))} "
        "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id, idempotency_key, send_at", params)]
    NotificationEvent.objects.bulk_create(
        NotificationEvent(notification_id=pk, status=Status.QUEUED, created_at=now,
                          detail="due now" if at == now else f"due {at:%Y-%m-%d %H:%M} UTC")
        for pk, _, at in created)
    NotificationDue.objects.bulk_create(NotificationDue(notification_id=pk, due_at=at)
                                        for pk, _, at in created)
    return created


def _aware(value) -> datetime:
    """A timestamp as SQLite's RETURNING gives it (text, or naive UTC) as an aware datetime."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def notifications_schedule_many(*, practice, messages: list[Outgoing]) -> ScheduleResult:
    """Queue every message (see the module docstring) with one INSERT statement on PostgreSQL.

    Meant for the handful of messages one event causes; raises ValidationError (naming the
    position of the first bad row) before writing anything.
    """
    from .dispatch import enqueue_on_commit

    messages = list(messages)
    _check(messages)
    result = ScheduleResult()
    if not messages:
        return result
    now = timezone.now()
    values = [_values(row, now) for row in messages]
    with transaction.atomic(savepoint=False):
        created = _insert(practice.pk, values, now)
        made = {key for _, key, _ in created}
        if len(made) < len(values):
            # Keys are unique across practices: a caller must never learn that another practice's
            # row exists.
            clash = Notification.objects.filter(
                idempotency_key__in=[v[_KEY_AT] for v in values if v[_KEY_AT] not in made]).exclude(
                practice_id=practice.pk)
            if clash.exists():
                raise ValueError("idempotency_key is already used by another practice's notification; "
                                 "keys must include an id that is unique to the practice's object")
    for pk, _, send_at in created:
        if send_at <= now:
            enqueue_on_commit(pk)
    result.created, result.existing = len(created), len(values) - len(created)
    result.created_ids = [pk for pk, _, _ in created]
    return result
