"""The sandbox channel: records messages in the database for the dev outbox page."""

from django.core.mail.backends.base import BaseEmailBackend

from practices.models import Practice

from .models import SandboxMessage


class SandboxEmailBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        count = 0
        for message in email_messages:
            metadata = dict(getattr(message, "metadata", None) or {})
            practice = None
            if metadata.get("practice"):
                practice = Practice.objects.filter(slug=metadata["practice"]).first()
            html = ""
            for content, mimetype in getattr(message, "alternatives", []):
                if mimetype == "text/html":
                    html = content
            SandboxMessage.objects.create(
                practice=practice, channel=SandboxMessage.Channel.EMAIL,
                to=", ".join(message.to), sender=message.from_email or "",
                subject=message.subject, body=message.body, html_body=html, metadata=metadata)
            count += 1
        return count


class SandboxTextChannel:
    """SMS or voice recorded into the dev outbox instead of going to Twilio."""

    def __init__(self, name: str):
        self.name = name

    def close(self):
        pass

    def send(self, notification, sender: str) -> str:
        message = SandboxMessage.objects.create(
            practice_id=notification.practice_id, channel=self.name, to=notification.address,
            sender=sender, body=notification.body,
            metadata={"notification": str(notification.pk), "kind": notification.kind})
        return f"SB{message.pk}"

    def lookup(self, notification) -> str | None:
        found = SandboxMessage.objects.filter(
            channel=self.name, metadata__notification=str(notification.pk)).first()
        return f"SB{found.pk}" if found else None
