"""The sandbox channel: records messages in the database for the dev outbox page, one plain
INSERT per message (the benchmarks send through it)."""

from django.core.mail.backends.base import BaseEmailBackend

from config.rows import insert_row
from practices.models import Practice

from .models import SandboxMessage


class SandboxEmailBackend(BaseEmailBackend):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._practices = {}  # slug: Practice, for the messages of one connection

    def _practice(self, slug: str):
        if slug not in self._practices:
            self._practices[slug] = Practice.objects.filter(slug=slug).first()
        return self._practices[slug]

    def send_messages(self, email_messages):
        count = 0
        for message in email_messages:
            metadata = dict(getattr(message, "metadata", None) or {})
            practice = self._practice(metadata["practice"]) if metadata.get("practice") else None
            html = ""
            for content, mimetype in getattr(message, "alternatives", []):
                if mimetype == "text/html":
                    html = content
            insert_row(SandboxMessage(
                practice=practice, channel=SandboxMessage.Channel.EMAIL,
                to=", ".join(message.to), sender=message.from_email or "",
                subject=message.subject, body=message.body, html_body=html, metadata=metadata))
            count += 1
        return count


class SandboxTextChannel:
    """SMS or voice recorded into the dev outbox instead of going to Twilio."""

    def __init__(self, name: str):
        self.name = name

    def close(self):
        pass

    def send(self, notification, sender: str) -> str:
        message = SandboxMessage(
            practice_id=notification.practice_id, channel=self.name, to=notification.address,
            sender=sender, body=notification.body,
            metadata={"notification": str(notification.pk), "kind": notification.kind})
        insert_row(message)
        return f"SB{message.pk}"

    def lookup(self, notification) -> str | None:
        found = SandboxMessage.objects.filter(
            channel=self.name, metadata__notification=str(notification.pk)).first()
        return f"SB{found.pk}" if found else None
