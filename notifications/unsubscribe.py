"""One-click unsubscribe links (RFC 8058) in patient emails: a signed, dated reference to the
message.

A link works for a year after the email was written (long enough for a statement cycle and the
next year's reminders, short enough that an old forwarded email stops working), and only for a
message to a patient: staff emails have their own preferences.

The List-Unsubscribe header names the notification by id. A link written into the body when
the message is rendered (the `{{ unsubscribe_link }}` merge field) names it by its idempotency
key, which the caller knows before the row exists, so a batch of messages can be rendered and
written in one statement.
"""

import base64
import binascii
import hashlib
import hmac
import time
from datetime import timedelta
from functools import lru_cache

from django.conf import settings
from django.core import signing

_SALT = "notifications.unsubscribe"
MAX_AGE = timedelta(days=365)
# Keys are signed as TimestampSigner signs them, by a plain HMAC of their base64 form and the
# time (a dumps() of JSON would cost several times as much, for each of a batch's 100,000
# emails); the salt keeps the two kinds apart.
_KEY_SIGNER = signing.TimestampSigner(salt=_SALT + ".key")


class LinkExpired(Exception):
    pass


def unsubscribe_token(notification_id: int) -> str:
    return signing.dumps(notification_id, salt=_SALT, compress=True)


@lru_cache(maxsize=4)
def _key_mac(secret: str, salt: str):
    # What Signer.signature computes for every value (django.core.signing.salted_hmac), keyed
    # once: deriving the key costs more than the HMAC, for each of a batch's 100,000 emails.
    return hmac.new(hashlib.sha256((salt + "signer" + secret).encode()).digest(), digestmod=hashlib.sha256)


@lru_cache(maxsize=2)
def _timestamp(second: int) -> str:
    return signing.b62_encode(second)  # the same for every email signed in that second


def unsubscribe_token_for_key(idempotency_key: str) -> str:
    """The value `_KEY_SIGNER.sign` gives (and `unsign` checks) for the key's base64 form."""
    encoded = base64.urlsafe_b64encode(idempotency_key.encode()).decode().rstrip("=")
    value = f"{encoded}{_KEY_SIGNER.sep}{_timestamp(int(time.time()))}"
    mac = _key_mac(_KEY_SIGNER.key, _KEY_SIGNER.salt).copy()
    mac.update(value.encode())
    return f"{value}{_KEY_SIGNER.sep}{base64.urlsafe_b64encode(mac.digest()).decode().rstrip('=')}"


def unsubscribe_url_for_key(idempotency_key: str) -> str:
    return f"{settings.PUBLIC_BASE_URL}/unsubscribe/{unsubscribe_token_for_key(idempotency_key)}/"


def unsubscribe_reference(token: str) -> dict | None:
    """{"id": notification id} or {"idempotency_key": key} for a valid token; None when it was
    not made here; LinkExpired when it is older than MAX_AGE."""
    try:
        value = signing.loads(token, salt=_SALT, max_age=MAX_AGE)
    except signing.SignatureExpired as exc:
        raise LinkExpired from exc
    except signing.BadSignature:
        value = None
    if isinstance(value, int) and not isinstance(value, bool):
        return {"id": value}
    try:
        encoded = _KEY_SIGNER.unsign(token, max_age=MAX_AGE)
    except signing.SignatureExpired as exc:
        raise LinkExpired from exc
    except signing.BadSignature:
        return None
    try:
        key = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return {"idempotency_key": key}
