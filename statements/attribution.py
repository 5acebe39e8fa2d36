"""settings.PAYMENT_FIRST_MESSAGE_HOOKS: a statement's messages are one series, so a payment
through the link of any of them counts its time to pay from the first of them that was sent."""

from datetime import datetime

from payments.attribution import series_first_sent

from .models import Statement


def statement_id_of(key: str) -> int | None:
    """The statement of a message key `statement:<id>:step:<step id>` (models.statement_key)."""
    parts = key.split(":")
    if len(parts) == 4 and parts[0] == "statement" and parts[2] == "step" and parts[1].isdigit():
        return int(parts[1])
    return None


def statement_first_messages(practice_id: int, keys: list[str]) -> dict[str, datetime]:
    wanted = {key: statement_id_of(key) for key in keys}
    wanted = {key: statement for key, statement in wanted.items() if statement is not None}
    statements = Statement.objects.filter(practice_id=practice_id, pk__in=set(wanted.values()))
    keys_of = {s.pk: s.keys for s in statements.only("id", "steps")} if wanted else {}
    return series_first_sent(practice_id=practice_id,
                             series={key: keys_of.get(statement, []) for key, statement in wanted.items()})
