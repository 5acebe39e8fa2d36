"""One-click unsubscribe links (RFC 8058) in patient emails: a signed reference to the message.

The List-Unsubscribe header names the notification by id. A link written into the body when
the message is rendered (the `{{ unsubscribe_link }}` merge field) names it by its idempotency
key, which the caller knows before the row exists, so a batch of messages can be rendered and
written in one statement.
"""

import base64
import binascii

from django.conf import settings
from django.core import signing

_SALT = "notifications.unsubscribe"
# Keys are signed by a plain HMAC of their base64 form (a dumps() of JSON would cost several
# times as much, for each of a batch's 100,000 emails); the salt keeps the two kinds apart.
_KEY_SIGNER = signing.Signer(salt=_SALT + ".key")


def unsubscribe_token(notification_id: int) -> str:
    return signing.dumps(notification_id, salt=_SALT, compress=True)


def unsubscribe_token_for_key(idempotency_key: str) -> str:
    encoded = base64.urlsafe_b64encode(idempotency_key.encode()).decode().rstrip("=")
    return _KEY_SIGNER.sign(encoded)


def unsubscribe_url_for_key(idempotency_key: str) -> str:
    return f"{settings.PUBLIC_BASE_URL}/unsubscribe/{unsubscribe_token_for_key(idempotency_key)}/"


def unsubscribe_reference(token: str) -> dict | None:
    """{"id": notification id} or {"idempotency_key": key} for a valid token, else None."""
    try:
        value = signing.loads(token, salt=_SALT)
    except signing.BadSignature:
        value = None
    if isinstance(value, int) and not isinstance(value, bool):
        return {"id": value}
    try:
        encoded = _KEY_SIGNER.unsign(token)
        key = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    except (signing.BadSignature, binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return {"idempotency_key": key}


def unsubscribe_notification_id(token: str) -> int | None:
    reference = unsubscribe_reference(token)
    return reference.get("id") if reference else None
