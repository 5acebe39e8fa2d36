"""Plain-text emails are not HTML: a name with & or ' or < reads as typed, in the subject and
the body, wherever it comes from (an office's name, a patient's, a person's address)."""

import re
from pathlib import Path

from django.core import mail
from django.urls import reverse

from practices import services
from practices.tasks import team_invite_send
from tests.factories import UserFactory

ROOT = Path(__file__).resolve().parent.parent
NAME = "Smith & O'Neil <Family> Dental"
ESCAPED = re.compile(r"&(amp|lt|gt|quot|#x27|#39);")


def _plain(message) -> str:
    return f"{message.subject}\n{message.body}"


def test_the_invitation_reads_as_typed(world):
    world.practice_a.name = NAME
    world.practice_a.save()
    invitation = services.team_invite(practice=world.practice_a, email="o'neil+x@example.test",
                                      role="staff", actor=world.admin_ab)
    team_invite_send(invitation.pk)
    [message] = mail.outbox
    assert NAME in message.subject and NAME in message.body
    assert "o'neil+x@example.test" in message.body
    assert not ESCAPED.search(_plain(message)), _plain(message)
    html = message.alternatives[0][0]
    assert "Smith &amp; O&#x27;Neil &lt;Family&gt; Dental" in html  # HTML stays escaped


def test_the_password_reset_email_reads_as_typed(client, db):
    UserFactory(email="d'arcy&co@example.test")
    client.post(reverse("password_reset"), {"email": "d'arcy&co@example.test"})
    [message] = mail.outbox
    assert "d'arcy&co@example.test" in message.body
    assert not ESCAPED.search(_plain(message)), _plain(message)


def test_no_plain_text_template_is_rendered_by_the_html_engine():
    """Every .txt template goes through config.plain_text (autoescape off), none through the
    default engine, whose autoescaping turns & into &amp; in a plain-text email."""
    offenders = []
    for path in ROOT.glob("*/**/*.py"):
        if ".venv" in path.parts or "tests" in path.parts:
            continue
        for line_no, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"render_to_string\([^)]*\.txt", line):
                offenders.append(f"{path.relative_to(ROOT)}:{line_no}")
    assert offenders == []

