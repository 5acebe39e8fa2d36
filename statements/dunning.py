"""The dunning count's other ends: a balance that reached zero, and "still wanted?" before a send.

- `dunning_balances_changed` (settings.BALANCE_CHANGED_HOOKS) is called inside the writer's
  transaction after a PMS import, a payment or a refund wrote guarantors' balances. For those
  whose balance total is now zero or less and whose dunning is running, the unsent messages of
  their current statement become will-not-send "balance paid", the count goes back to zero and
  `paid_at` records when.
- `balance_notifications_still_wanted` (settings.NOTIFICATIONS_STILL_WANTED) answers the
  delivery engine just before a chunk is sent: a message of a statement that is no longer the
  guarantor's newest is superseded; one of a statement whose balance was paid since is not
  wanted either. Both are normally stopped when that happens; this catches a message claimed by
  a worker at that very moment.
"""

from itertools import islice

from django.db import connection
from django.utils import timezone

from notifications.models import Notification, ReasonCode
from notifications.schedule_many import notifications_cancel_many
from patients.models import Balance
from practices.models import Practice

from .models import BALANCE_KIND, Dunning, Statement, statement_key

_CHUNK = 5000


def _running(practice_id: int, guarantor_ids: list[int]) -> list[tuple]:
    """(guarantor id, statement id, steps) of those among `guarantor_ids` whose balance total is
    <= 0 and whose dunning runs. Plain SQL: a payment asks this for every webhook."""
    placeholders = ", ".join(["%s"] * len(guarantor_ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT d.guarantor_id, d.statement_id, s.steps FROM {Dunning._meta.db_table} d "  # noqa: S608
            f"JOIN {Balance._meta.db_table} b ON b.guarantor_id = d.guarantor_id "
            f"LEFT JOIN {Statement._meta.db_table} s ON s.id = d.statement_id "
            f"WHERE d.practice_id = %s AND d.guarantor_id IN ({placeholders}) AND b.total <= 0 "
            "AND (d.count > 0 OR (d.paid_at IS NULL AND d.statement_id IS NOT NULL))",
            [practice_id, *guarantor_ids])
        return cursor.fetchall()


def dunning_balances_changed(practice_id: int, guarantor_ids: list[int], source: str) -> int:
    """Stop the dunning of the guarantors among `guarantor_ids` whose balance is now <= 0.
    Returns how many guarantors it stopped."""
    practice = None
    stopped = 0
    it = iter(guarantor_ids)
    while chunk := list(islice(it, _CHUNK)):
        running = _running(practice_id, chunk)
        if not running:
            continue
        practice = practice or Practice.objects.get(pk=practice_id)
        keys = [statement_key(statement_id, int(step)) for _, statement_id, steps in running
                if statement_id for step in (steps or "").split(",") if step]
        notifications_cancel_many(practice=practice, reason_code=ReasonCode.BALANCE_PAID, keys=keys,
                                  detail=f"the balance reached zero ({source.replace('_', ' ')})")
        Dunning.objects.filter(guarantor_id__in=[g for g, _, _ in running]).update(
            count=0, paid_at=timezone.now(), updated_at=timezone.now())
        stopped += len(running)
    return stopped


def balance_notifications_still_wanted(rows) -> dict[int, tuple[str, str]]:
    """The balance notifications among `rows` that should no longer go (see the docstring)."""
    ids = [n.pk for n in rows if n.kind == BALANCE_KIND]
    if not ids:
        return {}
    statement_of = {}
    for pk, key in Notification.objects.filter(pk__in=ids).values_list("pk", "idempotency_key"):
        parts = key.split(":")
        if len(parts) == 4 and parts[0] == "statement" and parts[1].isdigit():
            statement_of[pk] = int(parts[1])
    statements = {pk: (guarantor_id, created) for pk, guarantor_id, created in Statement.objects.filter(
        pk__in=set(statement_of.values())).values_list("pk", "guarantor_id", "created_at")}
    dunning = {g: (current, paid_at) for g, current, paid_at in Dunning.objects.filter(
        guarantor_id__in={g for g, _ in statements.values()}).values_list(
        "guarantor_id", "statement_id", "paid_at")}
    answers = {}
    for pk, statement_id in statement_of.items():
        guarantor_id, created = statements.get(statement_id, (None, None))
        current, paid_at = dunning.get(guarantor_id, (None, None))
        if current is not None and current != statement_id:
            answers[pk] = (ReasonCode.SUPERSEDED, "a newer statement superseded it")
        elif paid_at is not None and created is not None and paid_at >= created:
            answers[pk] = (ReasonCode.BALANCE_PAID, "the balance was paid")
    return answers
