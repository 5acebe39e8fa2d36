"""Step 4 of a row's life: recording what came of an attempt, and the status events."""

import random
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from ..channels import PermanentError
from ..due import due_set
from ..models import NotificationEvent, OptOut, Status
from ..services import opt_out_record
from ..sql import run, status_among
from .claim import TABLE

_EVENTS = NotificationEvent._meta.db_table
# The longest wait between two attempts, whatever the attempt count.
RETRY_CAP_SECONDS = 3600


def retry_backoff(attempts: int) -> timedelta:
    """How long a row waits after its `attempts`-th attempt failed for a temporary reason:
    NOTIFICATIONS_RETRY_BASE_SECONDS doubled per attempt, at most an hour, plus up to a fifth
    at random so that rows failed together do not come back together."""
    base = settings.NOTIFICATIONS_RETRY_BASE_SECONDS * (2 ** min(max(0, attempts - 1), 16))
    return timedelta(seconds=min(base, RETRY_CAP_SECONDS) * (1 + random.random() * 0.2))


def event(pk, status, detail="", reason_code="") -> tuple:
    """A status event to write with `events_write`: (notification id, status, reason, detail)."""
    return (pk, status, reason_code, detail[:500])


def events_write(events: list[tuple]) -> None:
    """Insert a batch's status events (tuples from `event`) in one multi-row INSERT: building
    a model instance per event costs more than the statement at thousands of messages a second."""
    if not events:
        return
    now = timezone.now()
    columns = f"INSERT INTO {_EVENTS} (notification_id, status, reason_code, detail, created_at) "
    if connection.vendor == "postgresql":
        # Four array parameters: the statement text is the same for every batch.
        sql = (columns + "SELECT u.*, %s FROM unnest(%s::bigint[], "  # noqa: S608
               "%s::varchar[], %s::varchar[], %s::varchar[]) AS u")
        ids, statuses, reasons, details = zip(*events, strict=True)
        params = [now, list(ids), list(statuses), list(reasons), list(details)]
    else:
        sql = columns + "VALUES " + ", ".join(["(%s, %s, %s, %s, %s)"] * len(events))
        params = [x for e in events for x in (*e, now)]
    run(sql, params)


def update_if_owned(pk: int, started, **fields) -> bool:
    """UPDATE one `sending` row only while it is as this process left it: not attempted
    (`started` None) or in the attempt that began at `started`. Looked up by primary key (see
    sql.status_among); True if the row changed."""
    sending, status_args = status_among([Status.SENDING])
    attempt, attempt_args = ("attempt_started_at IS NULL", []) if started is None else (
        "attempt_started_at = %s", [started])
    assignments = ", ".join(f"{name} = %s" for name in fields)
    return bool(run(f"UPDATE {TABLE} SET {assignments} WHERE id = %s AND {sending} "  # noqa: S608
                    f"AND {attempt} RETURNING id", [*fields.values(), pk, *status_args, *attempt_args]))


def failed(n, started, exc: Exception, events: list) -> None:
    """Record a failed attempt, conditional on still owning that attempt."""
    now = timezone.now()
    attempts = n.attempts + 1
    error = str(exc)[:500]
    if isinstance(exc, PermanentError):
        status, send_at = Status.UNDELIVERABLE_PERMANENT, n.send_at
        detail = f"contact policy passed; permanent error, no retry: {error}"
        if exc.code == "21610":  # the carrier says this number replied STOP
            opt_out_record(practice=n.practice, channel=n.channel, address=n.address,
                           source=OptOut.Source.PROVIDER)
    elif attempts >= settings.NOTIFICATIONS_MAX_ATTEMPTS:
        status, send_at = Status.DELIVERY_ERROR, n.send_at
        detail = f"temporary error on attempt {attempts}, no attempts left: {error}"
    else:
        status, send_at = Status.UNDELIVERABLE_RETRY, now + retry_backoff(attempts)
        detail = f"temporary error on attempt {attempts}, retry at {send_at:%H:%M:%S %Z}: {error}"
    # A retry clears attempt_started_at so that the next attempt can take the row again; the
    # take's sent_at goes too, as the provider took nothing (see attempt.start_attempts).
    with transaction.atomic():
        if not update_if_owned(
                n.pk, started, status=status, send_at=send_at, last_error=error,
                lease_expires_at=None, sent_at=None,
                attempt_started_at=None if status == Status.UNDELIVERABLE_RETRY else started,
                updated_at=now):
            return
        if status == Status.UNDELIVERABLE_RETRY:
            due_set([(n.pk, send_at)])
    events.append(event(n.pk, status, detail))


def record_sent(sent: list[tuple[int, str]], started, events: list, sender: str) -> None:
    """Mark a batch sent in one statement, each row with its provider id.

    One event per attempt says both decisions: the contact policy passed, the provider took it.
    """
    if not sent:
        return
    now = timezone.now()
    # UPDATE ... FROM joins the batch's values once (a correlated subquery per row would scan
    # them per row); both PostgreSQL and SQLite (3.33+) speak it. On PostgreSQL the values are
    # two array parameters, so the statement text is the same for every batch.
    if connection.vendor == "postgresql":
        values = "SELECT * FROM unnest(%s::bigint[], %s::varchar[])"
        value_params = [[pk for pk, _ in sent], [pid for _, pid in sent]]
    else:
        values = "VALUES " + ", ".join(["(%s, %s)"] * len(sent))
        value_params = [x for pair in sent for x in pair]
    sending, sending_args = status_among([Status.SENDING], f"{TABLE}.status")
    sql = (f"WITH v(id, pid) AS ({values}) "  # noqa: S608 - placeholders only
           f"UPDATE {TABLE} SET status = %s, provider_message_id = v.pid, "
           f"sent_at = %s, lease_expires_at = NULL, last_error = '', updated_at = %s "
           f"FROM v WHERE {TABLE}.id = v.id "
           f"AND {TABLE}.attempt_started_at = %s AND {sending} RETURNING {TABLE}.id")
    params = [*value_params, Status.SENT, now, now, started, *sending_args]
    recorded = {row[0] for row in run(sql, params)}
    events.extend(event(pk, Status.SENT, f"contact policy passed; accepted by the provider via "
                        f"{sender}: {provider_id}") for pk, provider_id in sent if pk in recorded)
