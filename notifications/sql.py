"""SQL runners: how the delivery engine runs its own statements, and fragments they share.

On PostgreSQL the hot statements (claim, take, record, events) go through a psycopg cursor with
server-side parameter binding: an array of 500 ids travels as one binary parameter instead of
being quoted into the statement text by the client, which cost the worker more CPU than the
statement cost the server. The statements run on Django's connection, so they join the caller's
transaction (transaction.atomic) like any ORM query. Elsewhere (SQLite) Django's cursor runs them.
"""

from datetime import datetime

from django.db import connection


def run(sql: str, params: list) -> list[tuple]:
    """Execute one statement on the default database; return its rows (none for a plain write)."""
    if connection.vendor == "postgresql":
        import psycopg

        connection.ensure_connection()
        with psycopg.Cursor(connection.connection) as cursor:
            cursor.execute(sql, params, prepare=False)
            return cursor.fetchall() if cursor.description else []
    # Datetimes stored the way the ORM stores them, so ORM filters match what these wrote.
    params = [connection.ops.adapt_datetimefield_value(p) if isinstance(p, datetime) else p
              for p in params]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def among(column: str, values, *, array_type: str = "bigint") -> tuple[str, list]:
    """`column IN (values)`: one array parameter on PostgreSQL (the statement text is the same
    for any number of values), one placeholder per value elsewhere."""
    values = list(values)
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s::{array_type}[])", [values]
    return f"{column} IN ({', '.join(['%s'] * len(values))})", values


def status_among(statuses, column: str = "status") -> tuple[str, list]:
    """`status IN (...)` for a statement that already names its rows by id.

    On PostgreSQL the statuses are wrapped in a scalar subquery so the planner cannot match the
    partial indexes whose predicate is a status (notif_due_idx, notif_lease_idx): their
    statistics lag behind rows that change status every second, so the planner would believe
    them nearly empty and scan every row in flight (100,000 during a large drain) instead of
    looking the ids up in the primary key.
    """
    statuses = list(statuses)
    if connection.vendor == "postgresql":
        return f"{column} = ANY((SELECT %s::varchar[])::varchar[])", [statuses]
    return f"{column} IN ({', '.join(['%s'] * len(statuses))})", statuses
