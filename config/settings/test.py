"""The test profile: real PostgreSQL and Redis, given by the test command's environment."""

import dj_database_url

from config.env import env_bool, env_int, env_str, env_url

from .base import *  # noqa: F403

DEBUG = False
SECRET_KEY = "test-only-secret-key-2b7e151628aed2a6abf7158809cf4f3c-not-for-production"  # noqa: S105
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]

DATABASE_URL = env_url("DATABASE_URL", schemes=("postgres", "postgresql"))
# DATABASE_CONN_MAX_AGE: the benchmarks keep connections like production does.
DATABASES = {"default": dj_database_url.parse(
    DATABASE_URL, conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0, minimum=0), conn_health_checks=True)}
DATABASES["default"]["OPTIONS"] = {**DATABASES["default"].get("OPTIONS", {}), **POSTGRES_OPTIONS}  # noqa: F405
REDIS_URL = env_url("REDIS_URL", schemes=("redis",))

CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", REDIS_URL)
CELERY_TASK_IGNORE_RESULT = False

# In-memory email for most tests; a test that starts a worker process points it elsewhere.
MAILERS = {"default": {"BACKEND": env_str("EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend")}}
MESSAGING_SANDBOX = env_bool("MESSAGING_SANDBOX", True)
NOTIFICATIONS_REDIS_URL = REDIS_URL
TWILIO_ACCOUNT_SID = env_str("TWILIO_ACCOUNT_SID", "AC" + "0" * 32)
TWILIO_AUTH_TOKEN = env_str("TWILIO_AUTH_TOKEN", "test-twilio-auth-token")
TWILIO_DEFAULT_FROM = env_str("TWILIO_DEFAULT_FROM", "+15005550006")
PAYMENTS_GATEWAY = "sandbox"
STRIPE_SECRET_KEY = "sk_test_platform_key_for_the_loopback_fake"  # noqa: S105
STRIPE_WEBHOOK_SECRET = "whsec_test_secret_for_signed_fake_events"  # noqa: S105
ANYMAIL = {"WEBHOOK_SECRET": "anymail-user:anymail-webhook-secret"}

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
