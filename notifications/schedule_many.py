"""Queue and stop many outbox rows at once: one statement per chunk, never a call per row.

`notifications_schedule_many` gives every row the guarantees of `notification_schedule`, which
is this code with one row:

1. Each row is checked (channel, recipient kind, kind, key, add-on, time zone) before anything
   is written; a bad row refuses the whole call with the row's position.
2. The idempotency key is unique: a key already stored leaves that row as it is (counted as
   existing); a key stored by another practice is an error, as the caller built it wrongly.
3. A `send_at` that is absent or past means now. Every new row gets its first status event
   ("due now" or "due <UTC time>") and its entry on the due list, in the same statement as the
   row itself on PostgreSQL.
4. Rows due now are handed to Celery when the caller's transaction commits.

`notifications_cancel_many` stops the unsent rows among the given keys or ids: waiting rows
(queued, queueing error, can retry) and rows claimed whose provider call has not started (the
worker's take requires `sending` with no attempt, so it finds nothing left to send). They become
`will_not_send` with the reason (superseded, balance paid, ...) or `cancelled` by staff, lose
their due-list entry and get one status event each. Rows already sent or failed are left alone.

Statements, per chunk, all plain SQL on the notification, event and due-list tables (so that
triggers on those tables see every write):

- PostgreSQL schedule: the chunk staged by binary COPY into a temporary table (one row: a JSON
  parameter instead), then `WITH v AS (DELETE FROM outbox_stage RETURNING *), ins AS
  (INSERT INTO notifications_notification ... SELECT ... FROM v ON CONFLICT (idempotency_key)
  DO NOTHING RETURNING id, idempotency_key, send_at), ev AS (INSERT INTO
  notifications_notificationevent ... SELECT ... FROM ins), du AS (INSERT INTO
  notifications_notificationdue ... SELECT ... FROM ins) SELECT id, idempotency_key FROM ins`,
  then, only when some keys were already stored, one SELECT for another practice's keys.
- PostgreSQL cancel: `WITH f AS (<the ids of the practice's rows with the keys, a unique-index
  probe per key>), c AS (UPDATE notifications_notification n SET status, reason_code ... FROM f
  WHERE n.id = f.id AND <unsent> RETURNING n.id) INSERT INTO notifications_notificationevent ...
  SELECT ... FROM c RETURNING notification_id`, then `DELETE FROM notifications_notificationdue
  WHERE notification_id = ANY(<the ids stopped>)`.
- Other databases (SQLite): a multi-row `INSERT ... ON CONFLICT DO NOTHING RETURNING` (or an
  UPDATE ... RETURNING), then multi-row INSERTs of the events and the due-list entries (and a
  DELETE of the entries for a cancel).
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from itertools import islice
from zoneinfo import available_timezones

import orjson
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from practices.addons import ADDON_NAMES

from .models import (
    WAITING_STATUSES,
    Channel,
    Notification,
    NotificationDue,
    NotificationEvent,
    ReasonCode,
    RecipientKind,
    Status,
)
from .sql import run
from .staging import STAGE_FROM, stage, staged_source

CHUNK = 2000
_SQLITE_ROWS = 500  # 29 parameters a row, under SQLite's 32,766 variables a statement

_TABLE = Notification._meta.db_table
_EVENTS = NotificationEvent._meta.db_table
_DUE = NotificationDue._meta.db_table
_CHANNELS = frozenset(Channel.values)
_RECIPIENT_KINDS = frozenset(RecipientKind.values)


@dataclass(slots=True)
class Outgoing:
    """One message to queue: what `notification_schedule` takes, as a value. (Not frozen: a
    frozen dataclass sets each of its fields through object.__setattr__, and a batch makes
    200,000 of these; nothing changes one once made.)"""

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
    tag: str = ""


@dataclass
class ScheduleResult:
    created: int = 0
    existing: int = 0
    created_ids: list[int] = field(default_factory=list)  # with `return_ids`, in no given order


@lru_cache(maxsize=1)
def _time_zones() -> frozenset:
    return frozenset(available_timezones())


def outgoing_errors(row: Outgoing) -> dict[str, str]:
    """What is wrong with a row, by field (the messages `notification_schedule` gives)."""
    errors = {}
    if row.channel not in _CHANNELS:
        errors["channel"] = f"channel must be one of {', '.join(Channel.values)}"
    if row.recipient_kind not in _RECIPIENT_KINDS:
        errors["recipient"] = f"recipient kind must be one of {', '.join(RecipientKind.values)}"
    if not row.kind or len(row.kind) > 40:
        errors["kind"] = "kind is a short non-empty name"
    if not row.idempotency_key or len(row.idempotency_key) > 200:
        errors["idempotency_key"] = "an idempotency key of at most 200 characters is required"
    if row.addon and row.addon not in ADDON_NAMES:
        errors["addon"] = f"addon must be None or one of {', '.join(ADDON_NAMES)}"
    if row.recipient_time_zone and row.recipient_time_zone not in _time_zones():
        errors["time_zone"] = (f"{row.recipient_time_zone!r} is not a known time zone "
                               "(for example America/Chicago).")
    if len(row.tag) > 100:
        errors["tag"] = "a tag has at most 100 characters"
    return errors


def _chunks(rows: Iterable, size: int) -> Iterator[list]:
    it = iter(rows)
    while chunk := list(islice(it, size)):
        yield chunk


def _values(row: Outgoing, now: datetime) -> tuple:
    """The row's columns in _COLUMNS order, trimmed to their sizes, `send_at` made due."""
    send_at = row.send_at if row.send_at is not None and row.send_at > now else now
    return (row.recipient_kind, row.recipient_id, row.recipient_name[:200], row.recipient_time_zone,
            row.consent, row.channel, (row.address or "").strip()[:254], row.kind, row.reason[:200],
            row.addon or "", row.subject[:500], row.body, row.html_body, row.template_name[:100],
            row.template_version[:40], row.idempotency_key, send_at.astimezone(UTC), row.tag)


_COLUMNS = ("recipient_kind", "recipient_id", "recipient_name", "recipient_time_zone", "consent",
            "channel", "address", "kind", "reason", "addon", "subject", "body", "html_body",
            "template_name", "template_version", "idempotency_key", "send_at", "tag")
_TYPES = ("varchar", "bigint", "varchar", "varchar", "boolean", "varchar", "varchar", "varchar",
          "varchar", "varchar", "varchar", "text", "text", "varchar", "varchar", "varchar",
          "timestamptz", "varchar")
_KEY_AT, _SEND_AT = _COLUMNS.index("idempotency_key"), _COLUMNS.index("send_at")
# Columns every new row starts with: (name, SQL value) where the value is a parameter.
_CONSTANT = ("practice_id", "first_due_at", "status", "reason_code", "attempts", "sender",
             "provider_message_id", "last_error", "archived", "created_at", "updated_at")
_CONSTANT_TYPES = ("bigint", "timestamptz", "varchar", "varchar", "smallint", "varchar", "varchar",
                   "varchar", "boolean", "timestamptz", "timestamptz")

# A chunk reaches the server as rows staged by binary COPY (staging.py), or, when small (one
# row from notification_schedule), as one JSON parameter: never as an array per column, which
# psycopg adapts in Python at forty times the cost.
_RECORD = ", ".join(f"{c} {t}" for c, t in zip(_COLUMNS, _TYPES, strict=True))
_STAGE = "outbox_stage"
_SOURCES = {"json": f"SELECT * FROM json_to_recordset(%s::json) AS v({_RECORD})",  # noqa: S608
            "staged": staged_source(_STAGE)}


def _pg_insert(source: str) -> str:
    return " ".join([  # composed from the constant names above, no input
        f"WITH v AS ({_SOURCES[source]}),",
        f"ins AS (INSERT INTO {_TABLE} ({', '.join(_COLUMNS)}, {', '.join(_CONSTANT)})",
        f"SELECT {', '.join('v.' + c for c in _COLUMNS)}, %s, v.send_at, %s, '', 0, '', '', '', false,",
        "%s, %s FROM v ON CONFLICT (idempotency_key) DO NOTHING RETURNING id, idempotency_key, send_at),",
        f"ev AS (INSERT INTO {_EVENTS} (notification_id, status, reason_code, detail, created_at)",
        "SELECT id, %s, '', CASE WHEN send_at = %s THEN 'due now' ELSE 'due ' ||",
        "to_char(send_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') || ' UTC' END, %s FROM ins),",
        f"du AS (INSERT INTO {_DUE} (notification_id, due_at) SELECT id, send_at FROM ins)",  # noqa: S608
        "SELECT id, idempotency_key, send_at FROM ins",
    ])


_PG_INSERT = {source: _pg_insert(source) for source in _SOURCES}


def json_chunks() -> bool:
    """Whether set-based writes may pass a chunk to PostgreSQL as one JSON parameter. Elsewhere,
    or with settings.OUTBOX_GENERIC_SQL (tests run both ways), they use the generic multi-row
    statements that SQLite takes."""
    return connection.vendor == "postgresql" and not getattr(settings, "OUTBOX_GENERIC_SQL", False)


def json_rows(columns: tuple, rows) -> str:
    """Rows (tuples in `columns` order) as the JSON text json_to_recordset reads."""
    return orjson.dumps([dict(zip(columns, row, strict=True)) for row in rows]).decode()


def json_list(values) -> str:
    """A list of values as the JSON text `json_array_elements_text` reads."""
    return orjson.dumps(list(values)).decode()


@lru_cache(maxsize=1024)  # a batch's rows share a few send times
def _detail(due: datetime, now: datetime) -> str:
    return "due now" if due == now else f"due {due.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def _insert_chunk(practice_id: int, values: list[tuple], now: datetime) -> list[tuple]:
    """Insert a chunk; returns (id, key, send_at) of the rows it created."""
    if json_chunks():
        constants = [practice_id, Status.QUEUED, now, now, Status.QUEUED, now, now]
        if len(values) < STAGE_FROM:
            return run(_PG_INSERT["json"], [json_rows(_COLUMNS, values), *constants])
        stage(_STAGE, tuple(zip(_COLUMNS, _TYPES, strict=True)), values)
        return run(_PG_INSERT["staged"], constants)
    placeholders = "(" + ", ".join(["%s"] * (len(_COLUMNS) + len(_CONSTANT))) + ")"
    created = []
    for part in _chunks(values, _SQLITE_ROWS):
        params = []
        for v in part:
            params += [*v, practice_id, v[_SEND_AT], Status.QUEUED, "", 0, "", "", "", False, now, now]
        rows = run(f"INSERT INTO {_TABLE} ({', '.join(_COLUMNS)}, {', '.join(_CONSTANT)}) "  # noqa: S608
                   f"VALUES {', '.join([placeholders] * len(part))} "
                   "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id, idempotency_key, send_at",
                   params)
        created += [(pk, key, _aware(at)) for pk, key, at in rows]
    if created:
        NotificationEvent.objects.bulk_create(
            [NotificationEvent(notification_id=pk, status=Status.QUEUED, detail=_detail(at, now),
                               created_at=now) for pk, _, at in created], batch_size=500)
        NotificationDue.objects.bulk_create(
            [NotificationDue(notification_id=pk, due_at=at) for pk, _, at in created], batch_size=500)
    return created


def _aware(value) -> datetime:
    """A timestamp as SQLite's RETURNING gives it (text, or naive UTC) made an aware datetime."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _refuse_foreign_keys(practice_id: int, keys: list[str]) -> None:
    # Keys are unique across practices; a caller must never be told another practice's row
    # exists (nor get it back).
    if connection.vendor == "postgresql":
        clash = run(f"SELECT 1 FROM {_TABLE} WHERE idempotency_key = ANY(%s::varchar[]) "  # noqa: S608
                    "AND practice_id <> %s LIMIT 1", [keys, practice_id])
    else:
        clash = Notification.objects.filter(idempotency_key__in=keys).exclude(
            practice_id=practice_id)[:1]
    if clash:
        raise ValueError("idempotency_key is already used by another practice's notification; "
                         "keys must include an id that is unique to the practice's object")


def schedule_rows(*, practice_id: int, rows: list[Outgoing], now: datetime,
                  foreign_check: bool = True) -> list[tuple]:
    """Write one chunk of checked rows; (id, key, send_at) of those created. For the callers
    below, which check the rows and enqueue the due ones."""
    values = [_values(row, now) for row in rows]
    created = _insert_chunk(practice_id, values, now)
    if foreign_check and len(created) < len(values):
        made = {key for _, key, _ in created}
        _refuse_foreign_keys(practice_id, [v[_KEY_AT] for v in values if v[_KEY_AT] not in made])
    return created


def enqueue_due_now(created: list[tuple], now: datetime) -> None:
    from .dispatch import enqueue_on_commit

    for pk, _, send_at in created:
        if send_at <= now:
            enqueue_on_commit(pk)


def notification_schedule_one(*, practice, row: Outgoing) -> Notification:
    """One row: the new Notification, or the stored one with the same key."""
    errors = outgoing_errors(row)
    if errors:
        raise ValidationError(errors)
    # A stored key is looked up first, as a retry usually finds its row: one query either way.
    existing = Notification.objects.filter(idempotency_key=row.idempotency_key).first()
    now = timezone.now()
    if existing is None:
        if json_chunks():  # one statement: atomic on its own
            created = schedule_rows(practice_id=practice.pk, rows=[row], now=now, foreign_check=False)
        else:
            with transaction.atomic():
                created = schedule_rows(practice_id=practice.pk, rows=[row], now=now,
                                        foreign_check=False)
        if not created:  # another caller stored the key since the lookup: theirs stands
            existing = Notification.objects.get(idempotency_key=row.idempotency_key)
    if existing is not None:
        if existing.practice_id != practice.pk:
            raise ValueError("idempotency_key is already used by another practice's notification; "
                             "keys must include an id that is unique to the practice's object")
        return existing
    enqueue_due_now(created, now)
    (pk, _, due), = created
    values = dict(zip(_COLUMNS, _values(row, now), strict=True))
    notification = Notification(pk=pk, practice=practice, **values, first_due_at=due,
                                status=Status.QUEUED, created_at=now, updated_at=now)
    notification._state.adding = False
    notification._state.db = "default"
    return notification


def notifications_schedule_many(*, practice, messages: Iterable[Outgoing], chunk: int = CHUNK,
                                return_ids: bool = False) -> ScheduleResult:
    """Queue every message (see the module docstring), in chunks of `chunk` rows.

    Raises ValidationError (naming the position of the first bad row, counted from 0) before
    writing its chunk; run it in a transaction to write all or nothing.
    """
    result = ScheduleResult()
    position = 0
    now = timezone.now()
    with transaction.atomic():
        for rows in _chunks(messages, chunk):
            for offset, row in enumerate(rows):
                errors = outgoing_errors(row)
                if errors:
                    raise ValidationError({name: f"message {position + offset}: {text}"
                                           for name, text in errors.items()})
            position += len(rows)
            created = schedule_rows(practice_id=practice.pk, rows=rows, now=now)
            result.created += len(created)
            result.existing += len(rows) - len(created)
            if return_ids:
                result.created_ids += [pk for pk, _, _ in created]
            enqueue_due_now(created, now)
    return result


@lru_cache(maxsize=1)
def _sequence() -> str:
    """The notifications' id sequence, by name: `nextval(pg_get_serial_sequence(...))` looked the
    sequence up in the catalog once per id drawn (a tenth of a batch's database time)."""
    [(name,)] = run("SELECT pg_get_serial_sequence(%s, 'id')", [_TABLE])
    return name


class NotificationIds:
    """Ids for new notifications, drawn from the table's sequence in growing blocks (the size of
    the first request, then twice the last block, up to BLOCK): a batch of 200,000 messages makes
    a handful of draws instead of one per chunk, each a round trip that its connection waits for
    while the machine's cores are busy with the rest of the batch. The ids of the last block that
    are not used are never used (a gap in the ids, as a rolled-back insert leaves)."""

    BLOCK = 50_000

    def __init__(self):
        self._ids: list[int] = []
        self._at = 0
        self._block = 0

    def take(self, count: int) -> list[int]:
        if self._at + count > len(self._ids):
            left = self._ids[self._at:]
            self._block = min(max(count - len(left), 2 * self._block), max(self.BLOCK, count))
            drawn = run("SELECT nextval(%s::regclass) FROM generate_series(1, %s::integer)",
                        [_sequence(), self._block])
            self._ids, self._at = left + [pk for pk, in drawn], 0
        taken = self._ids[self._at:self._at + count]
        self._at += count
        return taken


@dataclass(frozen=True, slots=True)
class CopyRows:
    """Messages checked and laid out as `notifications_copy_new` writes them (no database)."""

    values: list[tuple]
    details: list[str]  # the first status event's text of each
    now: datetime


def notifications_copy_prepare(messages: list[Outgoing]) -> CopyRows:
    """Check the messages and lay out their rows: the Python half of `notifications_copy_new`,
    which reads and writes nothing (it may run in another thread while the caller's connection
    writes). A bad row refuses the whole call with the row's position."""
    for position, row in enumerate(messages):
        if errors := outgoing_errors(row):
            raise ValidationError({name: f"message {position}: {text}" for name, text in errors.items()})
    now = timezone.now()
    values = [_values(row, now) for row in messages]
    return CopyRows(values=values, details=[_detail(v[_SEND_AT], now) for v in values], now=now)


def notifications_copy_new(*, practice, messages: list[Outgoing] | CopyRows,
                           ids: NotificationIds | None = None) -> ScheduleResult:
    """Queue messages whose keys are new by construction (a statement's messages: their keys name
    a statement written in the caller's transaction), the way PostgreSQL loads rows fastest: ids
    drawn from the table's sequence, then one binary COPY each into the notifications, their
    first status events and the due list. The rows get what `notifications_schedule_many` gives
    them, except that a key already stored is an error (a unique violation: the caller's keys
    were not new) rather than a row left as it is. `messages` may come prepared
    (`notifications_copy_prepare`); a caller writing many chunks passes its `ids`, drawn in
    blocks. PostgreSQL only (see `json_chunks`)."""
    result = ScheduleResult()
    rows = messages if isinstance(messages, CopyRows) else notifications_copy_prepare(messages)
    values, now = rows.values, rows.now
    if not values:
        return result
    ids = (ids or NotificationIds()).take(len(values))
    practice_id, queued = practice.pk, str(Status.QUEUED)
    # COPY goes through psycopg's own cursor: its errors are made Django's (IntegrityError) here.
    with transaction.atomic(), connection.cursor() as cursor, connection.wrap_database_errors:
        with cursor.cursor.copy(f"COPY {_TABLE} (id, {', '.join(_COLUMNS)}, {', '.join(_CONSTANT)}) "
                                "FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["bigint", *_TYPES, *_CONSTANT_TYPES])
            for pk, v in zip(ids, values, strict=True):
                copy.write_row((pk, *v, practice_id, v[_SEND_AT], queued, "", 0, "", "", "", False, now, now))
        with cursor.cursor.copy(f"COPY {_EVENTS} (notification_id, status, reason_code, detail, "
                                "created_at) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["bigint", "varchar", "varchar", "varchar", "timestamptz"])
            for pk, detail in zip(ids, rows.details, strict=True):
                copy.write_row((pk, queued, "", detail, now))
        with cursor.cursor.copy(f"COPY {_DUE} (notification_id, due_at) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["bigint", "timestamptz"])
            for pk, v in zip(ids, values, strict=True):
                copy.write_row((pk, v[_SEND_AT]))
    enqueue_due_now([(pk, v[_KEY_AT], v[_SEND_AT]) for pk, v in zip(ids, values, strict=True)], now)
    result.created = len(ids)
    return result


# --- cancel ---

_UNSENT = f"(status IN ({', '.join(repr(str(s)) for s in WAITING_STATUSES)}) " \
          f"OR (status = '{Status.SENDING}' AND attempt_started_at IS NULL))"


def notifications_cancel_many(*, practice, reason_code: str, keys: Iterable[str] = (),
                              ids: Iterable[int] = (), detail: str = "", chunk: int = CHUNK) -> int:
    """Stop the unsent rows of this practice among `keys` (idempotency keys) and `ids`.

    `cancelled_by_staff` makes them cancelled; another reason code makes them will-not-send
    with that reason. Returns how many rows were stopped.
    """
    if reason_code not in ReasonCode.values:
        raise ValidationError({"reason_code": "unknown reason code"})
    status = Status.CANCELLED if reason_code == ReasonCode.CANCELLED_BY_STAFF else Status.WILL_NOT_SEND
    detail = (detail or ReasonCode(reason_code).label.lower())[:500]
    stopped = 0
    now = timezone.now()
    with transaction.atomic():
        for column, values in (("idempotency_key", keys), ("id", ids)):
            for part in _chunks(values, chunk):
                stopped += _cancel_chunk(practice.pk, column, part, status, reason_code, detail, now)
    return stopped


def _cancel_chunk(practice_id, column, values, status, reason_code, detail, now) -> int:
    if json_chunks():
        array = "varchar" if column == "idempotency_key" else "bigint"
        # The keys or ids as one JSON parameter, each looked up on its own in its unique index
        # (OFFSET 0 keeps the lookup a probe per key), with the practice; the rows found are
        # then updated by id where still unsent. The unsent test is on the updated row, so that
        # a row a worker claimed meanwhile is checked again, and names no practice: with the
        # practice beside it, the planner, whose statistics lag behind rows that change status
        # every second (see dispatch.py), took the practice's every waiting row from its status
        # index and hashed them, a cost per chunk that grew with the queue rather than with the
        # chunk (a batch of 100,000 statements cancels 200,000 rows, 10,000 at a time).
        rows = run(
            f"WITH f AS (SELECT x.id FROM json_array_elements_text(%s::json) AS k(v) "  # noqa: S608
            f"CROSS JOIN LATERAL (SELECT id FROM {_TABLE} WHERE {column} = k.v::{array} "
            "AND practice_id = %s OFFSET 0) x), "
            f"c AS (UPDATE {_TABLE} n SET status = %s, reason_code = %s, "
            "lease_expires_at = NULL, updated_at = %s FROM f WHERE n.id = f.id "
            "AND (n.status = ANY((SELECT %s::varchar[])::varchar[]) "
            "OR (n.status = %s AND n.attempt_started_at IS NULL)) RETURNING n.id) "
            f"INSERT INTO {_EVENTS} (notification_id, status, reason_code, detail, created_at) "
            "SELECT id, %s, %s, %s, %s FROM c RETURNING notification_id",
            [json_list(values), practice_id, status, reason_code, now, list(WAITING_STATUSES),
             Status.SENDING, status, reason_code, detail, now])
        # The due-list entries by a second statement, with the ids as a constant array: the due
        # list churns, and its row estimate can fall near zero (a vacuum that counted it while a
        # batch's entries were uncommitted); joined with the rows stopped above (`IN (SELECT id
        # FROM c)`), PostgreSQL then read the whole list once per stopped row (175 s for one
        # chunk of a 100,000-statement batch). Against a constant array even a scan is one pass.
        stopped = [row[0] for row in rows]
        if stopped:
            run(f"DELETE FROM {_DUE} WHERE notification_id = ANY(%s::bigint[])", [stopped])  # noqa: S608
        return len(rows)
    marks = ", ".join(["%s"] * len(values))
    rows = run(f"UPDATE {_TABLE} SET status = %s, reason_code = %s, lease_expires_at = NULL, "  # noqa: S608
               f"updated_at = %s WHERE practice_id = %s AND {column} IN ({marks}) AND {_UNSENT} "
               "RETURNING id", [status, reason_code, now, practice_id, *values])
    stopped = [row[0] for row in rows]
    if stopped:
        NotificationDue.objects.filter(notification_id__in=stopped).delete()
        NotificationEvent.objects.bulk_create(
            [NotificationEvent(notification_id=pk, status=status, reason_code=reason_code,
                               detail=detail, created_at=now) for pk in stopped], batch_size=500)
    return len(stopped)
