"""Many rows of one model in one INSERT per chunk, for this app's set-based writes (QuickPay
links, payment request campaigns).

On PostgreSQL the chunk travels as one array per column (`INSERT ... SELECT * FROM unnest(...)`):
a 10,000-row insert is one short statement, without Django building a model instance and a
placeholder per value (which cost more than the insert itself). Elsewhere (SQLite) it is
`bulk_create`. Fields not given take their default ("" for text, NULL otherwise, now for
auto_now fields), as the ORM would give them.
"""

from itertools import islice

from django.db import connection
from django.db.models import Model
from django.utils import timezone

CHUNK = 5000


def run_arrays(sql: str, params: list) -> list[tuple]:
    """Run one PostgreSQL statement whose column arrays are `%b` parameters, sent in binary:
    psycopg quotes every element of a text-format array with a pattern match, which cost more
    than the insert. Joins the caller's transaction, like any ORM query."""
    import psycopg

    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, prepare=False)
        return cursor.fetchall() if cursor.description else []


def _filled(model: type[Model], given: list[str]) -> list:
    """The concrete fields to write: those given, then every other one with its default."""
    now = timezone.now()
    extra = []
    for field in model._meta.concrete_fields:
        if field.primary_key or field.name in given:
            continue
        auto = getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)
        extra.append((field, now if auto else field.get_default()))  # "" for text, else None
    return extra


def rows_insert(model: type[Model], columns: list[str], rows: list[tuple], *, returning: tuple[str, ...] = (),
                skip_conflicts: bool = False) -> list[tuple]:
    """Insert `rows` (tuples in `columns` order, field names) and return `returning` of each row
    written (PostgreSQL), or of each object created (elsewhere; not with skip_conflicts)."""
    if not rows:
        return []
    extra = _filled(model, columns)
    fields = [model._meta.get_field(name) for name in columns] + [field for field, _ in extra]
    if connection.vendor != "postgresql":
        objects = [model(**{f.attname: value for f, value in zip(fields, (*row, *(v for _, v in extra)),
                                                                 strict=True)})
                   for row in rows]
        model.objects.bulk_create(objects, batch_size=500, ignore_conflicts=skip_conflicts)
        attnames = [model._meta.get_field(name).attname for name in returning]
        return [] if skip_conflicts else [tuple(getattr(o, name) for name in attnames) for o in objects]
    table = model._meta.db_table
    names = ", ".join(f.column for f in fields)
    arrays = ", ".join(f"%b::{f.db_type(connection)}[]" for f in fields)  # %b: sent in binary
    tail = (" ON CONFLICT DO NOTHING" if skip_conflicts else "") + (
        f" RETURNING {', '.join(model._meta.get_field(n).column for n in returning)}" if returning else "")
    sql = f"INSERT INTO {table} ({names}) SELECT * FROM unnest({arrays}){tail}"  # noqa: S608 - model metadata
    out: list[tuple] = []
    it = iter(rows)
    while chunk := list(islice(it, CHUNK)):
        columns_values = [list(column) for column in zip(*chunk, strict=True)]
        columns_values += [[value] * len(chunk) for _, value in extra]
        out += run_arrays(sql, columns_values)
    return out
