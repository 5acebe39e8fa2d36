"""The embedded default: runs on one machine with nothing to install.

SQLite (WAL mode) under var/, Celery's worker and beat on kombu's filesystem transport, and every
email, text and call recorded by the sandbox channel into the dev outbox page.
"""

from config.env import env_bool, env_list, env_str, secret_key_file

from .base import *  # noqa: F403
from .base import VAR_DIR

VAR_DIR.mkdir(parents=True, exist_ok=True)

# Error pages with DEBUG show patients' data and the settings: only when the operator asks.
DEBUG = env_bool("DEBUG", False)
# Signs sessions, password-reset and unsubscribe links: each installation makes its own.
SECRET_KEY = env_str("SECRET_KEY", "") or secret_key_file(VAR_DIR / "secret_key")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": VAR_DIR / "portal.sqlite3",
        "OPTIONS": {
            # WAL lets the web process read while the worker writes; IMMEDIATE takes the write
            # lock at BEGIN so two writers queue on the timeout instead of failing mid-transaction.
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        },
    }
}

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": str(VAR_DIR / "cache"),
    }
}

_broker_dir = VAR_DIR / "broker"
for _sub in ("queue", "processed", "control"):
    (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
# A hostname keeps kombu from warning on every connection; the transport ignores it.
CELERY_BROKER_URL = "filesystem://localhost/"
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "data_folder_in": str(_broker_dir / "queue"),
    "data_folder_out": str(_broker_dir / "queue"),
    "processed_folder": str(_broker_dir / "processed"),
    "control_folder": str(_broker_dir / "control"),
    "store_processed": False,
}
# The filesystem transport has no broadcast exchange, so remote control is off.
CELERY_WORKER_ENABLE_REMOTE_CONTROL = False
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# runserver serves static files only with DEBUG; WhiteNoise serves them from the apps' folders.
WHITENOISE_USE_FINDERS = True

MAILERS = {"default": {"BACKEND": "notifications.sandbox.SandboxEmailBackend"}}
MESSAGING_SANDBOX = True
# SQLite builds the analytics' covering indexes without their included columns (PostgreSQL's
# index-only reads); the index itself still serves.
SILENCED_SYSTEM_CHECKS = ["models.W040"]
