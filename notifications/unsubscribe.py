"""One-click unsubscribe links (RFC 8058) in patient emails: a signed, dated notification id.

A link works for a year after the email went out (long enough for a statement cycle and the
next year's reminders, short enough that an old forwarded email stops working), and only for a
message to a patient: staff emails have their own preferences.
"""

from datetime import timedelta

from django.core import signing

_SALT = "notifications.unsubscribe"
MAX_AGE = timedelta(days=365)


class LinkExpired(Exception):
    pass


def unsubscribe_token(notification_id: int) -> str:
    return signing.dumps(notification_id, salt=_SALT, compress=True)


def unsubscribe_notification_id(token: str) -> int | None:
    """The notification a token names; None when it was not made here; LinkExpired when old."""
    try:
        value = signing.loads(token, salt=_SALT, max_age=MAX_AGE)
    except signing.SignatureExpired as exc:
        raise LinkExpired from exc
    except signing.BadSignature:
        return None
    return value if isinstance(value, int) else None
