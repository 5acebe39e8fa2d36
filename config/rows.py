"""Inserting a row unless one with the same unique key exists, in one statement.

`Model.objects.create()` inside `transaction.atomic()` is the usual way to survive a concurrent
insert of the same key, but the savepoint costs two more round trips on every insert. For the
hot paths (an API call that records an event) `INSERT ... ON CONFLICT (key) DO NOTHING
RETURNING id` says in one statement whether this call created the row; PostgreSQL and SQLite
(3.35 and later) both speak it.
"""

from django.db import connection

from config.sql import run


def insert_if_absent(instance, *, unique_fields: tuple[str, ...]) -> bool:
    """INSERT the unsaved `instance` unless a row with its `unique_fields` exists.

    True: inserted, and `instance.pk` is set. False: a row with that key exists (possibly
    committed by a concurrent transaction this one waited for); the instance stays unsaved.
    Fields are prepared as `save()` prepares them (auto_now, defaults, database types).
    """
    quote = connection.ops.quote_name
    conflict = ", ".join(quote(instance._meta.get_field(name).column) for name in unique_fields)
    return _insert(instance, f" ON CONFLICT ({conflict}) DO NOTHING")


def insert_row(instance) -> None:
    """INSERT the unsaved `instance` in one statement, without the ORM's save machinery (no
    signals): for paths that write rows one by one, hundreds a second. Sets `instance.pk`."""
    _insert(instance, "")


def _insert(instance, conflict_clause: str) -> bool:
    meta = instance._meta
    columns, values = insert_values(instance)
    quote = connection.ops.quote_name
    sql = (f"INSERT INTO {quote(meta.db_table)} ({', '.join(map(quote, columns))}) "  # noqa: S608
           f"VALUES ({', '.join(['%s'] * len(columns))}){conflict_clause} "
           f"RETURNING {quote(meta.pk.column)}")
    rows = run(sql, values, prepare=True)  # one text per table and clause: planned once
    if not rows:
        return False
    mark_saved(instance, rows[0][0])
    return True


def insert_values(instance) -> tuple[list[str], list]:
    """The columns an INSERT of the unsaved `instance` writes (all but the primary key) and
    their values, prepared as `save()` prepares them (auto_now, defaults, database types)."""
    fields = [f for f in instance._meta.local_concrete_fields if not f.primary_key]
    return ([f.column for f in fields],
            [f.get_db_prep_save(f.pre_save(instance, True), connection) for f in fields])


def mark_saved(instance, pk) -> None:
    """The instance now stands for the row `pk` that a statement of ours inserted."""
    instance.pk = pk
    instance._state.adding = False
    instance._state.db = connection.alias
