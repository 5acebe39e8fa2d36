"""Settings profiles, run as separate processes exactly as an operator would start them."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config import env

ROOT = Path(__file__).resolve().parent.parent

PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "SECRET_KEY": "x" * 20 + "production-like-secret-for-the-deploy-check-0123456789",
    "ALLOWED_HOSTS": "portal.example.com",
    "DATABASE_URL": "postgres://outreach:pw@127.0.0.1:5432/outreach",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
    "EMAIL_ESP": "postmark",
    "EMAIL_ESP_API_KEY": "server-token",
    "ANYMAIL_WEBHOOK_SECRET": "user:secret",
    "DEFAULT_FROM_EMAIL": "Portal <no-reply@example.com>",
    "PUBLIC_BASE_URL": "https://portal.example.com",
    "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
    "TWILIO_AUTH_TOKEN": "token",
    "STRIPE_SECRET_KEY": "sk_live_platform",
    "STRIPE_WEBHOOK_SECRET": "whsec_platform",
}


def _manage(*args, env_vars):
    clean = {k: v for k, v in os.environ.items()
             if k not in PRODUCTION_ENV and k not in ("REDIS_URL", "DJANGO_ALLOW_ASYNC_UNSAFE")}
    clean["PATH"] = os.environ["PATH"]
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT,
                          env={**clean, **env_vars}, capture_output=True, text=True, timeout=120)


def test_production_deploy_check_reports_nothing():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env_vars=PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(("variable", "value"), [
    ("SECRET_KEY", None), ("DATABASE_URL", None), ("CELERY_BROKER_URL", None),
    ("ALLOWED_HOSTS", None), ("TWILIO_AUTH_TOKEN", None), ("EMAIL_ESP", None),
    ("DATABASE_URL", "mysql://nope"), ("CELERY_BROKER_URL", "amqp://x"),
    ("EMAIL_ESP", "pigeon"), ("PUBLIC_BASE_URL", "http://insecure.example"),
    ("SECRET_KEY", "short"), ("SECURE_HSTS_SECONDS", "a year"),
    ("STRIPE_SECRET_KEY", None), ("STRIPE_WEBHOOK_SECRET", None), ("STRIPE_SECRET_KEY", "pk_live_public"),
    ("STRIPE_WEBHOOK_SECRET", "secret"), ("PAYMENTS_GATEWAY", "paypal"),
])
def test_a_missing_or_malformed_variable_stops_start_up_naming_it(variable, value):
    env_vars = dict(PRODUCTION_ENV)
    if value is None:
        env_vars.pop(variable)
    else:
        env_vars[variable] = value
    result = _manage("check", env_vars=env_vars)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert variable in result.stderr.splitlines()[-1]


def test_the_sandbox_gateway_needs_no_stripe_keys():
    env_vars = {k: v for k, v in PRODUCTION_ENV.items() if not k.startswith("STRIPE_")}
    result = _manage("check", env_vars={**env_vars, "PAYMENTS_GATEWAY": "sandbox"})
    assert result.returncode == 0, result.stderr


def test_secrets_can_come_from_files(tmp_path, monkeypatch):
    secret = tmp_path / "token"
    secret.write_text("from-a-file\n")
    monkeypatch.delenv("SOME_TOKEN", raising=False)
    monkeypatch.setenv("SOME_TOKEN_FILE", str(secret))
    assert env.env_str("SOME_TOKEN") == "from-a-file"
    monkeypatch.setenv("SOME_TOKEN_FILE", str(tmp_path / "missing"))
    with pytest.raises(ImproperlyConfigured, match="SOME_TOKEN_FILE"):
        env.env_str("SOME_TOKEN")


def test_env_helpers_reject_bad_values(monkeypatch):
    monkeypatch.setenv("FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="FLAG"):
        env.env_bool("FLAG")
    monkeypatch.setenv("COUNT", "-3")
    with pytest.raises(ImproperlyConfigured, match="COUNT must be at least 0"):
        env.env_int("COUNT", minimum=0)
    monkeypatch.setenv("COUNT", "12")
    assert env.env_int("COUNT", minimum=0) == 12


def test_embedded_default_uses_sqlite_in_wal_mode_and_a_serverless_broker(tmp_path):
    script = ("from django.db import connection; c = connection.cursor(); "
              "c.execute('PRAGMA journal_mode'); print(c.fetchone()[0]); "
              "from django.conf import settings; print(settings.CELERY_BROKER_URL); "
              "print(settings.MAILERS['default']['BACKEND'])")
    result = _manage("shell", "--verbosity", "0", "-c", script, env_vars={
        "DJANGO_SETTINGS_MODULE": "config.settings.embedded", "VAR_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["wal", "filesystem://localhost/",
                                     "notifications.sandbox.SandboxEmailBackend"]
    assert (tmp_path / "portal.sqlite3").exists()


EMBEDDED_PRINT = ("from django.conf import settings; print(settings.DEBUG); "
                  "print(settings.SECRET_KEY)")


def _embedded(var_dir, **extra):
    return _manage("shell", "--verbosity", "0", "-c", EMBEDDED_PRINT, env_vars={
        "DJANGO_SETTINGS_MODULE": "config.settings.embedded", "VAR_DIR": str(var_dir), **extra})


def test_embedded_default_runs_without_debug_unless_the_operator_asks(tmp_path):
    quiet = _embedded(tmp_path)
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout.split()[0] == "False"
    asked = _embedded(tmp_path, DEBUG="1")
    assert asked.stdout.split()[0] == "True"


def test_embedded_default_makes_its_own_secret_key_once_and_keeps_it_private(tmp_path):
    first = _embedded(tmp_path / "one")
    again = _embedded(tmp_path / "one")
    other = _embedded(tmp_path / "two")
    key = first.stdout.split()[1]
    assert len(key) >= 50 and "not-secret" not in key
    assert again.stdout.split()[1] == key  # sessions and links survive a restart
    assert other.stdout.split()[1] != key  # every installation has its own
    key_file = tmp_path / "one" / "secret_key"
    assert key_file.read_text().strip() == key
    assert key_file.stat().st_mode & 0o777 == 0o600
    given = _embedded(tmp_path / "one", SECRET_KEY="s" * 60)
    assert given.stdout.split()[1] == "s" * 60
