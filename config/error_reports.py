"""Error reporting to Sentry (production, when SENTRY_DSN is set), without patient data.

What could carry patient data never leaves: no default PII (user, IP address), no request
bodies, query strings, cookies or headers (a request keeps its method only; the route's
pattern, not its path, names it, so tokens in links stay out), no local variables of stack
frames, no breadcrumb data (SQL parameters, log arguments). What remains (exception values,
log messages, breadcrumb messages, extra context) is scrubbed of email addresses and phone
numbers by `scrub_event`, the SDK's `before_send`.
"""

import re

EMAIL = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")
# E.164 (+13125550142) and North American numbers written with or without separators.
PHONE = re.compile(r"\+\d[\d\s().-]{6,18}\d|\(?\b\d{3}\)?[\s.-]?\d{3}[\s.-]?\d{4}\b")
REDACTED = "[redacted]"
_REQUEST_KEPT = ("method",)


def scrub_text(text: str) -> str:
    return PHONE.sub(REDACTED, EMAIL.sub(REDACTED, text))


def _scrub(value):
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, dict):
        return {key: _scrub(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(item) for item in value]
    return value


def _frames(event):
    for holder in (event.get("exception") or {}).get("values") or []:
        yield from (holder.get("stacktrace") or {}).get("frames") or []
    for thread in (event.get("threads") or {}).get("values") or []:
        yield from (thread.get("stacktrace") or {}).get("frames") or []


def scrub_event(event: dict, hint: dict | None = None) -> dict:
    """before_send: drop what may carry patient data, scrub addresses and numbers from the rest."""
    request = event.get("request")
    if request is not None:
        event["request"] = {key: request[key] for key in _REQUEST_KEPT if key in request}
    event.pop("user", None)
    for frame in _frames(event):
        frame.pop("vars", None)
    breadcrumbs = event.get("breadcrumbs")
    values = breadcrumbs.get("values") if isinstance(breadcrumbs, dict) else breadcrumbs
    for crumb in values or []:
        crumb.pop("data", None)
    return _scrub(event)


def error_report_options(*, dsn: str, environment: str, release: str = "") -> dict:
    """The keyword arguments of `sentry_sdk.init` for this project."""
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    return {
        "dsn": dsn,
        "environment": environment,
        "release": release or None,
        "integrations": [DjangoIntegration(transaction_style="url"), CeleryIntegration()],
        "send_default_pii": False,
        "max_request_body_size": "never",
        "include_local_variables": False,
        "before_send": scrub_event,
        "traces_sample_rate": 0.0,
    }
