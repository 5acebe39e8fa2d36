"""Limits on signing in and on password-reset emails.

Failed sign-ins are counted by django-axes for the pair of email and client address: after
AXES_FAILURE_LIMIT failures that email is refused from that address for AXES_COOLOFF_TIME, while
everyone else behind the same office network signs in as usual, and the owner of the email can
sign in from elsewhere. A completed password reset lifts the email's locks (practices.views).

Password-reset emails are counted per email (whether or not it has an account, so the answer
reveals nothing) and per client address, in the shared cache.
"""

import hashlib

from django.conf import settings
from django.core.cache import cache
from django.shortcuts import render


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


def sign_in_email(request, credentials) -> str:
    """The email an attempt is counted under: as the sign-in form reads it (trimmed, lower case)."""
    raw = (credentials or {}).get("username") or request.POST.get("username", "")
    return str(raw).strip().lower()


def locked_out(request, response=None, credentials=None):
    """What a locked email and address pair gets: the sign-in page, saying what happened and
    how to end it."""
    from .forms import EmailAuthenticationForm

    minutes = max(1, int(settings.AXES_COOLOFF_TIME.total_seconds() // 60))
    form = EmailAuthenticationForm(request, initial={"username": sign_in_email(request, credentials)})
    return render(request, "registration/login.html", {
        "form": form, "locked_minutes": minutes, "next": request.POST.get("next", "")}, status=429)


def password_reset_allowed(request, email: str) -> str:
    """Count one reset request; "" when it may send, else the reason it may not."""
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    window = settings.PASSWORD_RESET_LIMIT_WINDOW
    if _count(f"pw-reset:ip:{client_ip(request) or 'unknown'}", window) > \
            settings.PASSWORD_RESET_LIMIT_PER_ADDRESS:
        return ("Too many password-reset requests from your network. Try again in an hour.")
    if _count(f"pw-reset:email:{digest}", window) > settings.PASSWORD_RESET_LIMIT_PER_EMAIL:
        return ("We've sent several reset links for this email in the last hour. Use the newest "
                "one, or try again in an hour.")
    return ""


def _count(key: str, window: int) -> int:
    """Requests under `key` in the current window, this one included."""
    if cache.add(key, 1, timeout=window):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=window)
        return 1



