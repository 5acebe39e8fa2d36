"""What every channel promises: send one message, class its errors, look a lost send up."""

from django.conf import settings


class ChannelError(Exception):
    def __init__(self, message: str, code: str = ""):
        super().__init__(message)
        self.code = str(code or "")


class TemporaryError(ChannelError):
    """Timeouts, 5xx, 429, connection refused: worth another try after a pause."""


class PermanentError(ChannelError):
    """The provider will never accept this message (invalid number, unsubscribed, ...)."""


class FateUnknown(Exception):
    """The channel cannot tell whether an interrupted send reached the provider."""


class ChannelBackend:
    name = ""

    def close(self) -> None:
        """Close what the sends of a chunk opened (a connection they reused)."""

    def send(self, notification, sender: str) -> str:
        """Hand the message to the provider; return the provider's message id."""
        raise NotImplementedError

    def lookup(self, notification) -> str | None:
        """After an interrupted send: the provider's id if it has the message, None if it
        certainly has not. Raises FateUnknown when the provider cannot be asked."""
        raise FateUnknown(f"{self.name} cannot look up an interrupted send")


def status_callback_url(notification_id: int) -> str:
    return f"{settings.PUBLIC_BASE_URL}/webhooks/twilio/status?n={notification_id}"
