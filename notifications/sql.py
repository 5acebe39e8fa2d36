"""SQL runners: how the delivery engine runs its own statements, and fragments they share.

The hot statements (claim, take, record, events) run through config.sql.run: on PostgreSQL with
server-side parameter binding, so that an array of 500 ids travels as one binary parameter.
"""

from django.db import connection

from config.sql import run

__all__ = ["among", "run", "status_among"]


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
