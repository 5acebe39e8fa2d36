"""The rows a settlement reads and writes, in few statements and without building a query each time.

A webhook runs these for every payment: the statements are made once per process from the
models' own columns, the values go through the fields' own conversions, so the rows are
exactly what the ORM would read and write.

- `payment_locked`: the payment (FOR UPDATE of its row only, on PostgreSQL) with its practice
  and guarantor, in one statement.
- `balance_locked` / `balance_write`: the guarantor's balance row, locked, then written.
- `payment_write_numbered`: the payment's changed fields and the practice's next change number,
  one statement on PostgreSQL (see Payment.change_seq and `_numbered_sql`).
"""

from decimal import Decimal
from functools import lru_cache

from django.db import connection
from django.utils import timezone

from patients.models import Balance, Patient
from practices.models import Practice

from .models import Payment, PaymentSettings

CENTS = Decimal("0.01")
BALANCE_AMOUNTS = ("total", "amount_due", "aging_current", "aging_31_60", "aging_61_90", "aging_91_120",
                   "aging_over_120")
_JOINED = (("p", Payment, None), ("pr", Practice, "practice"), ("g", Patient, "guarantor"))


def _qn(name: str) -> str:
    return connection.ops.quote_name(name)


@lru_cache
def _readers(vendor: str) -> list[tuple]:
    """Per joined model: (alias, model, relation name, attnames, converters per column)."""
    readers = []
    for alias, model, relation in _JOINED:
        fields = model._meta.concrete_fields
        converters = [connection.ops.get_db_converters(f.get_col(alias)) + f.get_db_converters(connection)
                      for f in fields]
        readers.append((alias, model, relation, [f.attname for f in fields], fields, converters))
    return readers


@lru_cache
def _locked_sql(vendor: str, column: str) -> str:
    columns = ", ".join(f"{alias}.{_qn(f.column)}" for alias, model, _ in _JOINED
                        for f in model._meta.concrete_fields)
    lock = " FOR UPDATE OF p" if vendor == "postgresql" else ""
    return (f"SELECT {columns} FROM {_qn(Payment._meta.db_table)} p "  # noqa: S608 - our tables
            f"JOIN {_qn(Practice._meta.db_table)} pr ON pr.id = p.practice_id "
            f"JOIN {_qn(Patient._meta.db_table)} g ON g.id = p.guarantor_id "
            f"WHERE p.{_qn(Payment._meta.get_field(column).column)} = %s "
            f"ORDER BY p.created_at DESC, p.id DESC LIMIT 1{lock}")


def payment_locked(*, column: str, value: str) -> Payment | None:
    """The newest payment whose `column` is `value`, its row locked until commit (the
    practice's and the guarantor's rows are read, not locked), or None."""
    vendor = connection.vendor
    with connection.cursor() as cursor:
        cursor.execute(_locked_sql(vendor, column), [value])
        row = cursor.fetchone()
    if row is None:
        return None
    objects, at = {}, 0
    for alias, model, relation, attnames, fields, converters in _readers(vendor):
        values = list(row[at:at + len(attnames)])
        at += len(attnames)
        for n, (field, convert) in enumerate(zip(fields, converters, strict=True)):
            for converter in convert:
                values[n] = converter(values[n], field.get_col(alias), connection)
        objects[relation] = model.from_db(connection.alias, attnames, values)
    payment = objects.pop(None)
    for relation, obj in objects.items():
        payment._state.fields_cache[relation] = obj
    return payment


@lru_cache
def _balance_sql(vendor: str) -> tuple[str, str]:
    table = _qn(Balance._meta.db_table)
    columns = [_qn(Balance._meta.get_field(name).column) for name in BALANCE_AMOUNTS]
    lock = " FOR UPDATE" if vendor == "postgresql" else ""
    select = f"SELECT id, {', '.join(columns)} FROM {table} WHERE guarantor_id = %s{lock}"  # noqa: S608
    update = (f"UPDATE {table} SET {', '.join(f'{c} = %s' for c in columns)}, "  # noqa: S608 - our table
              f"{_qn('updated_at')} = %s WHERE id = %s")
    return select, update


def balance_locked(guarantor_id: int) -> tuple[int, dict[str, Decimal]] | None:
    """The guarantor's balance row (locked until commit): (id, {amount name: value})."""
    with connection.cursor() as cursor:
        cursor.execute(_balance_sql(connection.vendor)[0], [guarantor_id])
        row = cursor.fetchone()
    if row is None:
        return None
    return row[0], {name: Decimal(str(value)).quantize(CENTS) for name, value in
                    zip(BALANCE_AMOUNTS, row[1:], strict=True)}


def balance_write(balance_id: int, amounts: dict[str, Decimal]) -> None:
    ops = connection.ops
    params = [ops.adapt_decimalfield_value(amounts[name], 12, 2) for name in BALANCE_AMOUNTS]
    with connection.cursor() as cursor:
        cursor.execute(_balance_sql(connection.vendor)[1],
                       [*params, ops.adapt_datetimefield_value(timezone.now()), balance_id])


@lru_cache
def _numbered_sql(vendor: str, fields: tuple[str, ...]) -> tuple[str, str]:
    """(bump, write). On PostgreSQL `write` is one statement: it takes the practice's next number
    (the UPDATE locks the practice's settings row until commit, so numbers become visible in
    the order they were given: a reader that has seen number n has seen every number below it)
    and writes it with the payment's fields. Elsewhere, `bump` takes the number and `write`
    writes it with the fields."""
    settings_table, payment_table = _qn(PaymentSettings._meta.db_table), _qn(Payment._meta.db_table)
    bump = (f"UPDATE {settings_table} SET payments_seq = payments_seq + 1 "  # noqa: S608 - our tables
            "WHERE practice_id = %s RETURNING payments_seq")
    sets = "".join(f"{_qn(Payment._meta.get_field(name).column)} = %s, " for name in fields)
    if vendor == "postgresql":
        return bump, (f"WITH seq AS ({bump}) UPDATE {payment_table} SET {sets}"  # noqa: S608
                      f"change_seq = seq.payments_seq FROM seq WHERE {payment_table}.id = %s "
                      f"RETURNING {payment_table}.change_seq")
    return bump, f"UPDATE {payment_table} SET {sets}change_seq = %s WHERE id = %s"  # noqa: S608


def _numbered(cursor, payment: Payment, names: tuple[str, ...], values: list) -> int | None:
    bump, write = _numbered_sql(connection.vendor, names)
    if connection.vendor == "postgresql":
        cursor.execute(write, [payment.practice_id, *values, payment.pk])
        row = cursor.fetchone()
        return row and row[0]
    cursor.execute(bump, [payment.practice_id])
    row = cursor.fetchone()
    if row is None:
        return None
    cursor.execute(write, [*values, row[0], payment.pk])
    return row[0]


def payment_write_numbered(payment: Payment, fields: list[str]) -> None:
    """Write the payment's `fields` (and updated_at) and give it the practice's next change
    number: the transaction's last write, so the settings row stays locked only until commit."""
    payment.updated_at = timezone.now()
    names = (*fields, "updated_at")
    values = [Payment._meta.get_field(name).get_db_prep_save(getattr(payment, name), connection)
              for name in names]
    with connection.cursor() as cursor:
        seq = _numbered(cursor, payment, names, values)
        if seq is None:  # the practice's first payment: its settings row is made now
            PaymentSettings.objects.get_or_create(practice_id=payment.practice_id)
            seq = _numbered(cursor, payment, names, values)
    payment.change_seq = seq
