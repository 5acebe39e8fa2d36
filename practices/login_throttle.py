"""Counting failed sign-ins, per email and per client address, in the shared cache.

Counting both stops one address guessing many accounts and many addresses guessing one account.
The count expires LOGIN_FAILURE_WINDOW seconds after the first failure.
"""

import hashlib

from django.conf import settings
from django.core.cache import cache


def _keys(email: str, client_ip: str) -> list[str]:
    digest = hashlib.sha256((email or "").strip().lower().encode()).hexdigest()[:32]
    return [f"login-fail:email:{digest}", f"login-fail:ip:{client_ip or 'unknown'}"]


def is_locked(*, email: str, client_ip: str) -> bool:
    counts = cache.get_many(_keys(email, client_ip))
    return any(count >= settings.LOGIN_FAILURE_LIMIT for count in counts.values())


def record_failure(*, email: str, client_ip: str) -> None:
    for key in _keys(email, client_ip):
        if not cache.add(key, 1, timeout=settings.LOGIN_FAILURE_WINDOW):
            try:
                cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.add(key, 1, timeout=settings.LOGIN_FAILURE_WINDOW)


def clear(*, email: str) -> None:
    cache.delete(_keys(email, "")[0])


def client_ip(request) -> str:
    """The client's address. Behind TRUSTED_PROXY_HOPS reverse proxies, REMOTE_ADDR is the last
    proxy's, so the address is read from X-Forwarded-For, counting hops from the right (entries
    further left were written by the client and cannot be trusted)."""
    hops = settings.TRUSTED_PROXY_HOPS
    if hops:
        forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
                     if a.strip()]
        if len(forwarded) >= hops:
            return forwarded[-hops]
    return request.META.get("REMOTE_ADDR", "")
