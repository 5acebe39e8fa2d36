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
