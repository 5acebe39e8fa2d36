"""Running our own SQL statements on Django's connection, for the hot paths.

On PostgreSQL a statement goes through a psycopg cursor with server-side parameter binding: an
array of 500 ids, or a message's text, travels as one binary parameter instead of being quoted
into the statement text by the client, which cost more CPU than the statement cost the server.
A statement run hundreds of times a second may also be prepared (`prepare=True`): PostgreSQL
then plans it once per connection instead of at each call. Such a statement names the type of
every parameter whose type its place does not tell (`%s::bigint` in a SELECT list).

The statements run on Django's connection, so they join the caller's transaction
(transaction.atomic) like any ORM query, and they are logged where Django logs its own (tests
count them with CaptureQueriesContext). Elsewhere (SQLite) Django's cursor runs them.
"""

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

from django.db import connection


def run(sql: str, params: list, *, prepare: bool = False) -> list[tuple]:
    """Execute one statement on the default database; return its rows (none for a plain write)."""
    if connection.vendor == "postgresql":
        import psycopg

        connection.ensure_connection()
        started = time.monotonic()
        with psycopg.Cursor(connection.connection) as cursor:
            cursor.execute(sql, params, prepare=prepare)
            rows = cursor.fetchall() if cursor.description else []
        if connection.queries_logged:
            connection.queries_log.append({"sql": sql, "time": f"{time.monotonic() - started:.3f}"})
        return rows
    # Datetimes stored the way the ORM stores them, so ORM filters match what these wrote.
    params = [connection.ops.adapt_datetimefield_value(p) if isinstance(p, datetime) else p
              for p in params]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


@contextmanager
def pipelined() -> Iterator[Callable[[str, list], Callable[[], list[tuple]]]]:
    """`send(sql, params)` runs a read and returns what gives its rows; on PostgreSQL the reads
    are pipelined (psycopg's pipeline mode): each goes to the server at once and the caller goes
    on (checking a file's next rows, say) while the server answers; its rows are taken when
    asked for, inside the block. Elsewhere each read runs when sent."""
    if connection.vendor != "postgresql":
        def send_now(sql: str, params: list) -> Callable[[], list[tuple]]:
            rows = run(sql, params)
            return lambda: rows

        yield send_now
        return
    import psycopg

    connection.ensure_connection()
    raw = connection.connection
    with raw.pipeline():
        def send(sql: str, params: list) -> Callable[[], list[tuple]]:
            cursor = psycopg.Cursor(raw)
            cursor.execute(sql, params)
            if connection.queries_logged:
                connection.queries_log.append({"sql": sql, "time": "0.000"})

            def rows() -> list[tuple]:
                with cursor:
                    return cursor.fetchall()

            return rows

        yield send
