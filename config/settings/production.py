"""Production: everything from the environment; a missing or malformed variable stops start-up."""

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_int, env_list, env_str, env_url

from .base import *  # noqa: F403

DEBUG = False
SECRET_KEY = env_str("SECRET_KEY")
if len(SECRET_KEY) < 50:
    raise ImproperlyConfigured("SECRET_KEY must be at least 50 characters long")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS")

DATABASE_URL = env_url("DATABASE_URL", schemes=("postgres", "postgresql"))
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL, conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0),
        conn_health_checks=True,
    )
}
DATABASES["default"]["OPTIONS"] = {**DATABASES["default"].get("OPTIONS", {}), **POSTGRES_OPTIONS}  # noqa: F405

CELERY_BROKER_URL = env_url("CELERY_BROKER_URL", schemes=("redis", "rediss"))
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": env_url("CACHE_URL", CELERY_BROKER_URL, schemes=("redis", "rediss")),
    }
}

# Email through an anymail ESP backend (or plain SMTP). Each ESP names its credential differently.
_ESP_CREDENTIAL = {
    "amazon_ses": None,  # credentials come from the AWS environment
    "brevo": "BREVO_API_KEY",
    "mailgun": "MAILGUN_API_KEY",
    "mailjet": "MAILJET_API_KEY",
    "postmark": "POSTMARK_SERVER_TOKEN",
    "resend": "RESEND_API_KEY",
    "sendgrid": "SENDGRID_API_KEY",
    "sparkpost": "SPARKPOST_API_KEY",
}
EMAIL_ESP = env_str("EMAIL_ESP")
if EMAIL_ESP == "smtp":
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.smtp.EmailBackend", "OPTIONS": {
        "host": env_str("EMAIL_HOST"),
        "port": env_int("EMAIL_PORT", 587, minimum=1),
        "username": env_str("EMAIL_HOST_USER", ""),
        "password": env_str("EMAIL_HOST_PASSWORD", ""),
        "use_tls": env_bool("EMAIL_USE_TLS", True),
    }}}
    ANYMAIL = {}
elif EMAIL_ESP in _ESP_CREDENTIAL:
    MAILERS = {"default": {"BACKEND": f"anymail.backends.{EMAIL_ESP}.EmailBackend"}}
    ANYMAIL = {"WEBHOOK_SECRET": env_str("ANYMAIL_WEBHOOK_SECRET")}
    if _ESP_CREDENTIAL[EMAIL_ESP]:
        ANYMAIL[_ESP_CREDENTIAL[EMAIL_ESP]] = env_str("EMAIL_ESP_API_KEY")
else:
    raise ImproperlyConfigured(
        f"EMAIL_ESP must be one of smtp, {', '.join(sorted(_ESP_CREDENTIAL))}; got {EMAIL_ESP!r}"
    )
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
PUBLIC_BASE_URL = env_url("PUBLIC_BASE_URL", schemes=("https",)).rstrip("/")

TWILIO_ACCOUNT_SID = env_str("TWILIO_ACCOUNT_SID")
TWILIO_AUTH_TOKEN = env_str("TWILIO_AUTH_TOKEN")
if not TWILIO_ACCOUNT_SID.startswith("AC"):
    raise ImproperlyConfigured("TWILIO_ACCOUNT_SID must start with 'AC'")
MESSAGING_SANDBOX = False

# Real money: Stripe unless the operator chooses the sandbox (a demo deployment) explicitly.
PAYMENTS_GATEWAY = env_str("PAYMENTS_GATEWAY", "stripe")
if PAYMENTS_GATEWAY == "stripe":
    STRIPE_SECRET_KEY = env_str("STRIPE_SECRET_KEY")
    if not STRIPE_SECRET_KEY.startswith(("sk_", "rk_")):
        raise ImproperlyConfigured("STRIPE_SECRET_KEY must start with 'sk_' or 'rk_'")
    STRIPE_WEBHOOK_SECRET = env_str("STRIPE_WEBHOOK_SECRET")
    if not STRIPE_WEBHOOK_SECRET.startswith("whsec_"):
        raise ImproperlyConfigured("STRIPE_WEBHOOK_SECRET must start with 'whsec_'")
elif PAYMENTS_GATEWAY != "sandbox":
    raise ImproperlyConfigured(f"PAYMENTS_GATEWAY must be stripe or sandbox, got {PAYMENTS_GATEWAY!r}")
NOTIFICATIONS_REDIS_URL = CACHES["default"]["LOCATION"]

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# Error reports (optional): no patient data leaves, see config/error_reports.py.
SENTRY_DSN = env_str("SENTRY_DSN", "")
if SENTRY_DSN:
    import sentry_sdk

    from config.error_reports import error_report_options

    sentry_sdk.init(**error_report_options(dsn=SENTRY_DSN,
                                           environment=env_str("SENTRY_ENVIRONMENT", "production"),
                                           release=env_str("SENTRY_RELEASE", "")))

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 60 * 60 * 24 * 365, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
CSRF_TRUSTED_ORIGINS = [PUBLIC_BASE_URL]
