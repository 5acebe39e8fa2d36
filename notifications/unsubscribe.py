"""One-click unsubscribe links (RFC 8058) in patient emails: a signed notification id."""

from django.core import signing

_SALT = "notifications.unsubscribe"


def unsubscribe_token(notification_id: int) -> str:
    return signing.dumps(notification_id, salt=_SALT, compress=True)


def unsubscribe_notification_id(token: str) -> int | None:
    try:
        value = signing.loads(token, salt=_SALT)
    except signing.BadSignature:
        return None
    return value if isinstance(value, int) else None
