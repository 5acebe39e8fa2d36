import re
from datetime import timedelta

from django.core import mail
from django.utils import timezone

ESCAPED = re.compile(r"&(amp|lt|gt|quot|#x27|#39);")


def test_an_alert_email_reads_as_typed(post_event, world):
    t0 = timezone.now() + timedelta(seconds=30)  # after the team joined
    world.practice_a.name = "Smith & O'Neil <Family> Dental"
    world.practice_a.save()
    post_event("declined", at=t0, patient={"external_id": "pms-9", "first_name": "Siobhán",
                                          "last_name": "O'Brien"})
    assert mail.outbox
    for message in mail.outbox:
        text = f"{message.subject}\n{message.body}"
        assert "Smith & O'Neil <Family> Dental" in text and "Siobhán O'Brien" in message.body
        assert not ESCAPED.search(text), text
