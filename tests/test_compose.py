"""docker-compose.yml cannot run here (no Docker engine), so check it points at real entry points."""

import importlib
import shlex
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_defines_the_production_stack():
    services = _compose()["services"]
    assert set(services) >= {"web", "worker", "beat", "postgres", "redis", "mailpit"}
    for name in ("web", "worker", "beat"):
        env = services[name]["environment"]
        assert env["DJANGO_SETTINGS_MODULE"] == "config.settings.production"
        assert env["DATABASE_URL"].startswith("postgres://") and "@postgres:" in env["DATABASE_URL"]
        assert env["CELERY_BROKER_URL"].startswith("redis://redis:")
        assert env["EMAIL_HOST"] == "mailpit"
    assert "postgres" in services["postgres"]["image"]
    assert "redis" in services["redis"]["image"]


def test_compose_commands_are_the_projects_entry_points():
    services = _compose()["services"]
    web = services["web"]["command"]
    assert "gunicorn config.wsgi:application" in web and "manage.py migrate" in web
    wsgi_module, attr = "config.wsgi", "application"
    assert callable(getattr(importlib.import_module(wsgi_module), attr))
    for name, sub in (("worker", "worker"), ("beat", "beat")):
        argv = shlex.split(services[name]["command"])
        assert argv[:4] == ["celery", "-A", "config", sub]
    app = importlib.import_module("config.celery_app").app
    assert app.main == "config"
    assert "practices.tasks.due_work_run" in {
        entry["task"] for entry in app.conf.beat_schedule.values()}
    assert (ROOT / "Dockerfile").exists()


def test_compose_ships_no_secret_of_its_own():
    """A default secret in the file would be the same in every stack started from it: signed
    sessions and links, and Twilio's webhook signatures, would be forgeable by anyone."""
    for name in ("web", "worker", "beat"):
        env = _compose()["services"][name]["environment"]
        for variable in ("SECRET_KEY", "TWILIO_AUTH_TOKEN"):
            assert env[variable].startswith(f"${{{variable}:?"), (name, variable)


def test_compose_healthchecks_use_healthz_the_worker_ping_and_the_beat_heartbeat():
    services = _compose()["services"]
    web = " ".join(services["web"]["healthcheck"]["test"])
    assert "http://127.0.0.1:8000/healthz" in web
    worker = services["worker"]["healthcheck"]["test"][1]
    assert shlex.split(worker)[:5] == ["celery", "-A", "config", "inspect", "ping"]
    assert services["beat"]["healthcheck"]["test"][2:] == ["manage.py", "healthcheck", "beat"]
    from django.core.management import get_commands

    assert get_commands()["healthcheck"] == "practices"
