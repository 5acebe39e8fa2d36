"""Secrets that travel in URLs stay out of the logs.

A QuickPay link, an unsubscribe link, an invitation and a password reset each carry a bearer
token in their path; whoever reads `Not Found: /p/<token>` in a log could open that patient's
balance page. `SecretPathsRedacted` replaces those path segments in every record it sees: it is on
the console handler (the root's) and on the development server's request lines.
"""

import logging
import re

REDACTED = "[redacted]"
_SEGMENT = r"[^/\s?#\"'<>]+"
SECRET_PATH = re.compile(
    rf"(?P<head>/(?:p|unsubscribe|invites)/){_SEGMENT}|(?P<reset>/accounts/reset/){_SEGMENT}/{_SEGMENT}")


def secret_paths_redact(text: str) -> str:
    return SECRET_PATH.sub(lambda m: (m.group("head") or m.group("reset")) + REDACTED, text)


class SecretPathsRedacted(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = secret_paths_redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
