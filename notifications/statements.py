"""Running the delivery engine's own SQL statements.

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
