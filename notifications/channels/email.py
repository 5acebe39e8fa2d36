"""Email through Django's mail API: the "default" mailer (an anymail ESP, SMTP, or sandbox)."""

import smtplib

from anymail.exceptions import AnymailError, AnymailRecipientsRefused, AnymailRequestsAPIError
from django.conf import settings
from django.core import mail
from django.core.mail import DNS_NAME, EmailMultiAlternatives, make_msgid

from .base import ChannelBackend, FateUnknown, PermanentError, TemporaryError


def unsubscribe_url(notification_id: int) -> str:
    from ..unsubscribe import unsubscribe_token

    return f"{settings.PUBLIC_BASE_URL}/unsubscribe/{unsubscribe_token(notification_id)}/"


def email_error(exc: Exception):
    if isinstance(exc, AnymailRecipientsRefused | smtplib.SMTPRecipientsRefused):
        return PermanentError(f"recipient refused: {type(exc).__name__}")
    if isinstance(exc, AnymailRequestsAPIError):
        status = exc.status_code or 0
        if status == 429 or status >= 500 or status in (401, 403) or not status:
            return TemporaryError(f"ESP HTTP {status}", status)
        return PermanentError(f"ESP HTTP {status}: {str(exc)[:200]}", status)
    if isinstance(exc, smtplib.SMTPResponseException):
        if exc.smtp_code >= 500:
            return PermanentError(f"SMTP {exc.smtp_code}", exc.smtp_code)
        return TemporaryError(f"SMTP {exc.smtp_code}", exc.smtp_code)
    return TemporaryError(f"email not handed over: {type(exc).__name__}")


class EmailChannel(ChannelBackend):
    name = "email"

    def __init__(self):
        self.connection = None

    def open(self):
        self.connection = mail.mailers["default"]
        self.connection.open()

    def close(self):
        if self.connection is not None:
            try:
                self.connection.close()
            finally:
                self.connection = None

    def send(self, notification, sender: str) -> str:
        if self.connection is None:
            self.open()
        # The host name Django looked up once: without a domain, every id asks the resolver.
        message_id = make_msgid(idstring=f"n{notification.pk}", domain=DNS_NAME)
        headers = {"Message-ID": message_id}
        if notification.recipient_kind == "patient":
            # One-click unsubscribe (RFC 8058) on patient messages only; staff alerts have
            # their own preferences.
            headers["List-Unsubscribe"] = f"<{unsubscribe_url(notification.pk)}>"
            headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        message = EmailMultiAlternatives(
            subject=notification.subject, body=notification.body,
            from_email=settings.DEFAULT_FROM_EMAIL, to=[notification.address], headers=headers)
        if notification.html_body:
            message.attach_alternative(notification.html_body, "text/html")
        # Ids only: ESPs echo metadata back in tracking events.
        message.metadata = {"notification": str(notification.pk),
                            "practice": notification.practice.slug}
        try:
            sent = self.connection.send_messages([message])
        except (AnymailError, smtplib.SMTPException, OSError) as exc:
            self.close()
            raise email_error(exc) from exc
        if not sent:
            raise TemporaryError("the mail backend sent nothing")
        status = getattr(message, "anymail_status", None)
        if status is not None and status.status and status.status <= {"rejected", "invalid"}:
            # The ESP refused the recipient (inactive, suppressed, malformed): no retry helps.
            raise PermanentError(f"ESP refused the recipient: {', '.join(sorted(status.status))}")
        if status is not None and status.message_id:
            return str(status.message_id)
        return message_id.strip("<>")

    def lookup(self, notification) -> str | None:
        from ..models import SandboxMessage

        backend = settings.MAILERS["default"]["BACKEND"]
        if backend == "notifications.sandbox.SandboxEmailBackend":
            found = SandboxMessage.objects.filter(
                channel="email", metadata__notification=str(notification.pk)).first()
            return f"SB{found.pk}" if found else None
        raise FateUnknown("the email provider cannot be asked about an interrupted send")
