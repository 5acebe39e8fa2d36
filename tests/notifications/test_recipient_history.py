"""A recipient's history panel (a guarantor's account) reads one recipient's rows through an index,
not every message of the practice."""

import pytest
from django.db import connection

from notifications.selectors import notifications_for_recipient
from notifications.services import Recipient, notification_schedule

pytestmark = pytest.mark.django_db


def test_the_latest_messages_to_a_recipient_come_from_the_recipient_index(world):
    made = {7: [], 8: []}
    for n in range(3):
        for recipient, pks in made.items():
            pks.append(notification_schedule(
                practice=world.practice_a, recipient=Recipient(kind="patient", id=recipient), channel="sms",
                address="+13125550142", kind="balance_dunning", body="Balance",
                idempotency_key=f"hist-{recipient}-{n}").pk)
    rows = notifications_for_recipient(practice=world.practice_a, kind="patient", recipient_id=7)
    assert [r.pk for r in rows] == made[7][::-1]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a plan as for a table of a million rows
    plan = rows.explain()
    # One recipient's rows by the index (a sort of those few is cheap), never a scan of the practice.
    assert "notif_recipient_idx" in plan and "Seq Scan" not in plan
