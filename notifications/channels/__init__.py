"""The delivery channels: email through Django's mail API, SMS and voice through Twilio.

With settings.MESSAGING_SANDBOX, SMS and voice are recorded in the dev outbox instead (email
goes to the sandbox through the MAILERS setting).
"""

from django.conf import settings

from .base import ChannelBackend, FateUnknown, PermanentError, TemporaryError

__all__ = ["ChannelBackend", "FateUnknown", "PermanentError", "TemporaryError", "channel_open"]


def channel_open(name: str):
    """A channel backend for a chunk of sends (call .close() when done)."""
    if name == "email":
        from .email import EmailChannel

        backend = EmailChannel()
    elif settings.MESSAGING_SANDBOX:
        from ..sandbox import SandboxTextChannel

        backend = SandboxTextChannel(name)
    elif name == "sms":
        from .sms import TwilioSmsChannel

        backend = TwilioSmsChannel()
    elif name == "voice":
        from .sms import TwilioVoiceChannel

        backend = TwilioVoiceChannel()
    else:
        raise ValueError(f"unknown channel {name!r}")
    return backend
