"""Settings shared by every runtime profile.

The profile modules (``embedded``, ``production``, ``test``) import everything from here and set
what differs: the database, the Celery broker, the email backend and the delivery channels.
"""

from datetime import timedelta
from pathlib import Path

from django.utils.csp import CSP

from config.env import env_bool, env_float, env_int, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "ninja",
    "axes",
    "practices",
    "patients",
    "statements",
    "notifications",
    "payments",
]

MIDDLEWARE = [
    "config.health.HealthCheckMiddleware",  # first: /healthz answers before host checks and limits
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "practices.middleware.NoStoreMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "practices.middleware.CurrentPracticeMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csp",
                "practices.context_processors.portal",
            ],
        },
    },
    {
        # Plain-text emails (config.plain_text): the same templates folder, nothing escaped.
        "NAME": "text",
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": False,
        "OPTIONS": {"autoescape": False},
    },
]

AUTH_USER_MODEL = "practices.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses a locked email and address pair first
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"
PASSWORD_RESET_TIMEOUT = 60 * 60 * 24 * 3  # reset links work for three days
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
     "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Failed sign-ins (django-axes; practices/sign_in_limits.py): after LOGIN_FAILURE_LIMIT failures
# for one email from one client address, that pair is refused for LOGIN_FAILURE_WINDOW seconds
# (each further try starts the wait again); a completed password reset lifts it.
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(seconds=env_int("LOGIN_FAILURE_WINDOW", 15 * 60, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_CALLABLE = "practices.sign_in_limits.sign_in_email"
AXES_CLIENT_IP_CALLABLE = "practices.sign_in_limits.client_ip"
AXES_LOCKOUT_CALLABLE = "practices.sign_in_limits.locked_out"
AXES_DISABLE_ACCESS_LOG = True  # no row per successful sign-in
# Password-reset emails: at most this many per email, and per client address, in the window.
PASSWORD_RESET_LIMIT_PER_EMAIL = env_int("PASSWORD_RESET_LIMIT_PER_EMAIL", 3, minimum=1)
PASSWORD_RESET_LIMIT_PER_ADDRESS = env_int("PASSWORD_RESET_LIMIT_PER_ADDRESS", 20, minimum=1)
PASSWORD_RESET_LIMIT_WINDOW = 60 * 60
# How many reverse proxies stand in front of the app (each appends to X-Forwarded-For).
TRUSTED_PROXY_HOPS = env_int("TRUSTED_PROXY_HOPS", 0, minimum=0)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
MEDIA_ROOT = VAR_DIR / "media"
# The PMS sends up to 10,000 patients in one JSON request (about 6 MB).
DATA_UPLOAD_MAX_MEMORY_SIZE = 32 * 1024 * 1024

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# The absolute address of this deployment, used for links in emails and provider callbacks.
PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Balance Outreach <no-reply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Celery: configured from these settings through the CELERY_ namespace (config/celery_app.py).
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Celery's Django fixup closes the database connection before and after every task unless it
# may reuse it: a new PostgreSQL session per task (its process, its caches, the triggers'
# plans) cost more than the task. Tasks keep connections as requests do (config/celery_app.py);
# the fixup still closes them after this many tasks.
CELERY_DB_REUSE_MAX = 1000
CELERY_BEAT_SCHEDULE = {
    # Timers (14-day and 48-hour alerts, dunning steps), queued sends and lease reclaims: the
    # same work as `manage.py send_due`, once a minute.
    "send-due-every-minute": {"task": "practices.tasks.due_work_run", "schedule": 60.0},
}

# The jobs `send_due` and the beat task run, in this order. Each is a callable taking no
# arguments and returning a short summary; apps add theirs here rather than importing each other.
DUE_WORK = [
    "payments.alerts.due_timers_run",  # application alert timers and 08:00 digests
    "payments.bulk_requests.hooks.bulk_requests_due",  # the day's request lists, campaigns' outcomes
    "notifications.due.due_list_repair",  # waiting messages that lost their due-list entry
    "notifications.dispatch.dispatch_due",
    "patients.services.patient_imports_sweep",  # imports stuck past PATIENT_IMPORT_STUCK_SECONDS
    "statements.csv_batches.statement_uploads_sweep",  # batch uploads stuck as long
    "notifications.counts.notification_counts_compact",  # the history's counts per status
]

# Asked just before each send, once per chunk of rows: `hook(rows)` answers {notification id:
# (reason code, detail)} for messages no longer wanted (notifications/contact_policy.py).
NOTIFICATIONS_STILL_WANTED = ["statements.dunning.balance_notifications_still_wanted",
                              "payments.bulk_requests.hooks.payment_requests_still_wanted"]
# Called as `hook(practice_id, guarantor_ids, source)` inside the writer's transaction after
# guarantors' balances were written: a PMS import ("pms_import"), a payment or a refund.
BALANCE_CHANGED_HOOKS = ["statements.dunning.dunning_balances_changed",
                         "payments.bulk_requests.hooks.balances_changed"]
# Called as `hook(practice)` by practices.services.practice_create for a new practice.
PRACTICE_CREATED_HOOKS = ["statements.profiles.standard_profile_create",
                          "statements.on_demand.on_demand_templates_create"]
# What a notification tag filter shows as: `label(practice, tag)` answers a label or None.
NOTIFICATIONS_TAG_LABELS = ["statements.selectors.notification_tag_label"]
# Panels of the guarantor's account page that other apps add: `panel(request, guarantor)`
# returns HTML (patients/views.py renders them in order).
ACCOUNT_PANELS = ["payments.panels.account_panel", "statements.panels.account_panel"]
# Parts of a patient's page that other apps add, the same way: `panel(request, patient)`.
PATIENT_PANELS = ["payments.bulk_requests.panels.explainer_panel"]
# What other apps add to the balance panel of a patient's dashboard: `action(request, patient)`
# returns HTML (statements: Send balance notification, or why it cannot be sent).
PATIENT_BALANCE_ACTIONS = ["statements.panels.on_demand_action"]
# The portal's home: `items(*, practice, membership, now)` returns the app's worklist items
# (practices/dashboard.py), each figure from a selector that stays fast at any size.
DASHBOARD_WORKLIST = ["payments.dashboard.worklist", "notifications.dashboard.worklist",
                      "statements.dashboard.worklist"]
# Recovery analytics (payments/analytics/): the outbox kinds of the messages each QuickPay link
# source sends, so the funnel's messages are counted from the outbox's counters by kind (an
# on-demand balance message is queued with kind "balance_on_demand").
ANALYTICS_SOURCE_KINDS = {"statement": ["balance_notification"], "on_demand": ["balance_on_demand"],
                          "payment_request": ["payment_request"]}
# When a paid link's message belongs to a series (a statement's cadence, a campaign's request
# and follow-ups), `hook(practice_id, keys)` answers {key: when the series' first message was
# sent} for the keys it knows; other messages count from their own send (payments/attribution.py).
PAYMENT_FIRST_MESSAGE_HOOKS = ["statements.attribution.statement_first_messages",
                               "payments.bulk_requests.attribution.campaign_first_messages"]

# Patient CSV imports: a file up to this size is checked, and up to this many rows imported, in
# the web request; larger ones by the worker. An import still checking or importing after
# PATIENT_IMPORT_STUCK_SECONDS (a lost task, no worker) is failed by the due-work sweep.
PATIENT_IMPORT_INLINE_BYTES = env_int("PATIENT_IMPORT_INLINE_BYTES", 1_000_000, minimum=0)
PATIENT_IMPORT_INLINE_ROWS = env_int("PATIENT_IMPORT_INLINE_ROWS", 2000, minimum=0)
PATIENT_IMPORT_STUCK_SECONDS = env_int("PATIENT_IMPORT_STUCK_SECONDS", 60 * 60, minimum=60)
# Statement batch CSV uploads, the same way.
STATEMENT_UPLOAD_INLINE_BYTES = env_int("STATEMENT_UPLOAD_INLINE_BYTES", 1_000_000, minimum=0)
STATEMENT_UPLOAD_INLINE_ROWS = env_int("STATEMENT_UPLOAD_INLINE_ROWS", 2000, minimum=0)

# What `seed_demo` loads, in order: each app adds its own part of the demo data set.
DEMO_SEEDERS = ["practices.demo.demo_seed", "patients.demo.demo_seed", "payments.demo.demo_seed",
                "notifications.demo.demo_seed", "statements.demo.demo_seed",
                "payments.demo.payment_settings_demo_seed", "statements.demo.quickpay_demo_seed",
                "payments.demo.bulk_requests_demo_seed"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"secret_paths": {"()": "config.log_filters.SecretPathsRedacted"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain",
                             "filters": ["secret_paths"]}},
    "root": {"handlers": ["console"], "level": "INFO"},
    "loggers": {"django.db.backends": {"level": "WARNING"},
                # The development server's request lines name each path: through the console.
                "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
                # The Twilio client logs every request's headers at INFO.
                "twilio.http_client": {"level": "WARNING"},
                "stripe": {"level": "WARNING"},
                "axes.apps": {"level": "WARNING"}},  # a banner at every start
}

# PostgreSQL connection options of the profiles that use it. The statements our hot paths ask
# to prepare (config.sql.run) are planned once per connection; no others are: Django's own
# queries bind their values on the client and are never prepared. DATABASE_PREPARED_STATEMENTS=0
# behind a pooler that cannot keep prepared statements (PgBouncer in transaction mode, before 1.21).
POSTGRES_OPTIONS = {
    "prepare_threshold": 1_000_000 if env_bool("DATABASE_PREPARED_STATEMENTS", True) else None}

# How long a process may answer API calls with a key it looked up, without looking again: a
# key revoked in another process is refused after at most this many seconds (at once in the
# process that revoked it). 0: every call looks its key up.
API_KEY_CACHE_SECONDS = env_int("API_KEY_CACHE_SECONDS", 5, minimum=0)

# Delivery engine (notifications/dispatch/ explains the leases and the reclaim rule).
NOTIFICATIONS_CLAIM_CHUNK = env_int("NOTIFICATIONS_CLAIM_CHUNK", 500, minimum=1)
NOTIFICATIONS_TASK_CHUNK = env_int("NOTIFICATIONS_TASK_CHUNK", 500, minimum=1)
NOTIFICATIONS_ATTEMPT_BATCH = env_int("NOTIFICATIONS_ATTEMPT_BATCH", 100, minimum=1)
NOTIFICATIONS_CLAIM_LEASE_SECONDS = env_int("NOTIFICATIONS_CLAIM_LEASE_SECONDS", 15 * 60, minimum=1)
NOTIFICATIONS_SEND_LEASE_SECONDS = env_int("NOTIFICATIONS_SEND_LEASE_SECONDS", 120, minimum=1)
NOTIFICATIONS_DISPATCH_BUDGET_SECONDS = env_int("NOTIFICATIONS_DISPATCH_BUDGET_SECONDS", 45, minimum=1)
NOTIFICATIONS_MAX_ATTEMPTS = env_int("NOTIFICATIONS_MAX_ATTEMPTS", 5, minimum=1)
NOTIFICATIONS_RETRY_BASE_SECONDS = env_int("NOTIFICATIONS_RETRY_BASE_SECONDS", 60, minimum=1)
NOTIFICATIONS_FREQUENCY_CAP = env_int("NOTIFICATIONS_FREQUENCY_CAP", 2, minimum=1)
NOTIFICATIONS_FREQUENCY_DAYS = env_int("NOTIFICATIONS_FREQUENCY_DAYS", 7, minimum=1)
NOTIFICATIONS_QUIET_HOURS_MAX_WAIT_HOURS = env_int("NOTIFICATIONS_QUIET_HOURS_MAX_WAIT_HOURS", 72,
                                                   minimum=1)
# Sends a second per sender (a Twilio number or messaging service; the email provider). A
# practice's messaging settings may set its own rate for its Twilio sender.
NOTIFICATIONS_RATES = {
    "sms": env_float("NOTIFICATIONS_RATE_SMS", 10.0),
    "voice": env_float("NOTIFICATIONS_RATE_VOICE", 1.0),
    "email": env_float("NOTIFICATIONS_RATE_EMAIL", 50.0),
}
NOTIFICATIONS_RATE_PROCESSES = env_int("NOTIFICATIONS_RATE_PROCESSES", 1, minimum=1)
NOTIFICATIONS_REDIS_URL = ""  # the shared token buckets; empty = each process paces itself

TWILIO_ACCOUNT_SID = env_str("TWILIO_ACCOUNT_SID", "")
TWILIO_AUTH_TOKEN = env_str("TWILIO_AUTH_TOKEN", "")
TWILIO_DEFAULT_FROM = env_str("TWILIO_DEFAULT_FROM", "")  # used when a practice has no sender
TWILIO_API_BASE_URL = env_str("TWILIO_API_BASE_URL", "")  # empty = Twilio itself
TWILIO_TIMEOUT = env_int("TWILIO_TIMEOUT", 10, minimum=1)

# Online payments (QuickPay). "stripe": hosted Checkout on each practice's Connect account;
# "sandbox": a checkout page served by the app that takes Stripe's test card numbers only.
PAYMENTS_GATEWAY = env_str("PAYMENTS_GATEWAY", "sandbox")
if PAYMENTS_GATEWAY not in ("stripe", "sandbox"):
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(f"PAYMENTS_GATEWAY must be stripe or sandbox, got {PAYMENTS_GATEWAY!r}")
STRIPE_SECRET_KEY = env_str("STRIPE_SECRET_KEY", "")
STRIPE_WEBHOOK_SECRET = env_str("STRIPE_WEBHOOK_SECRET", "")
STRIPE_API_BASE = env_str("STRIPE_API_BASE", "")  # empty = Stripe itself
STRIPE_WEBHOOK_TOLERANCE = 300  # seconds a signed webhook stays acceptable, as Stripe's libraries
# The date-of-birth check: wrong dates allowed per link (then the link stops asking), and per
# client address within QUICKPAY_DOB_WINDOW seconds.
QUICKPAY_DOB_LINK_ATTEMPTS = env_int("QUICKPAY_DOB_LINK_ATTEMPTS", 5, minimum=1)
QUICKPAY_DOB_ADDRESS_ATTEMPTS = env_int("QUICKPAY_DOB_ADDRESS_ATTEMPTS", 20, minimum=1)
QUICKPAY_DOB_WINDOW = env_int("QUICKPAY_DOB_WINDOW", 60 * 60, minimum=1)
