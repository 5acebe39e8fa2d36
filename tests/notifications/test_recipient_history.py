"""A recipient's history panel (a guarantor's account): that recipient's rows, newest first.
Which index serves it at a million rows is printed by bench/dispatch.py, where the table's
statistics are real."""

import pytest

from notifications.selectors import notifications_for_recipient
from notifications.services import Recipient, notification_schedule

pytestmark = pytest.mark.django_db


def test_a_recipients_history_holds_only_their_messages_newest_first(world):
    made = {7: [], 8: []}
    for n in range(3):
        for recipient, pks in made.items():
            pks.append(notification_schedule(
                practice=world.practice_a, recipient=Recipient(kind="patient", id=recipient), channel="sms",
                address="+13125550142", kind="balance_dunning", body="Balance",
                idempotency_key=f"hist-{recipient}-{n}").pk)
    rows = notifications_for_recipient(practice=world.practice_a, kind="patient", recipient_id=7)
    assert [r.pk for r in rows] == made[7][::-1]
