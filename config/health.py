"""`GET /healthz`: is this deployment able to work? For load balancers, compose and monitors.

Checks the database, the Celery broker, and beat's heartbeat: the task beat runs every minute
(`practices.tasks.due_work_run`) records when it ran, so a heartbeat older than three minutes
means nothing is running the timers and queued sends (beat, the broker or every worker is down).

Answered by a middleware placed first, before host validation, HTTPS redirects, sessions and
sign-in limits: a container's healthcheck calls it over plain HTTP on 127.0.0.1, and it must
answer however often it is called. It says nothing about patients or the practice.
"""

from datetime import UTC, datetime, timedelta

from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse

PATH = "/healthz"
HEARTBEAT_KEY = "ops:beat-heartbeat"
HEARTBEAT_MAX_AGE = timedelta(minutes=3)
BROKER_TIMEOUT_SECONDS = 3


def beat_heartbeat_record() -> None:
    """Called by beat's every-minute task."""
    cache.set(HEARTBEAT_KEY, datetime.now(UTC).isoformat(), timeout=None)


def _database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:
        connection.close()  # a broken connection is not handed to the next request
        return f"unreachable ({type(exc).__name__})"
    return "ok"


def _broker() -> str:
    from config.celery_app import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, interval_max=0,
                                   timeout=BROKER_TIMEOUT_SECONDS)
    except Exception as exc:
        return f"unreachable ({type(exc).__name__})"
    return "ok"


def _beat() -> str:
    try:
        recorded = cache.get(HEARTBEAT_KEY)
    except Exception as exc:
        return f"heartbeat unreadable ({type(exc).__name__})"
    if recorded is None:
        return "no heartbeat recorded"
    age = datetime.now(UTC) - datetime.fromisoformat(recorded)
    if age > HEARTBEAT_MAX_AGE:
        return f"last heartbeat {int(age.total_seconds() // 60)} minutes ago"
    return "ok"


CHECKS = {"database": _database, "broker": _broker, "beat": _beat}


def health_report(names=None) -> dict:
    """{"status": "ok"|"failing", "checks": {name: "ok" or what is wrong}, "failed": [names]}."""
    checks = {name: CHECKS[name]() for name in (names or CHECKS)}
    failed = [name for name, result in checks.items() if result != "ok"]
    report = {"status": "failing" if failed else "ok", "checks": checks}
    if failed:
        report["failed"] = failed
    return report


def healthz(request) -> JsonResponse:
    if request.method not in ("GET", "HEAD"):
        response = JsonResponse({"error": "method not allowed"}, status=405)
        response["Allow"] = "GET, HEAD"
        return response
    report = health_report()
    response = JsonResponse(report, status=200 if report["status"] == "ok" else 503)
    response["Cache-Control"] = "no-store"
    return response


class HealthCheckMiddleware:
    """Answers PATH itself; every other request goes on down the stack."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info == PATH:
            return healthz(request)
        return self.get_response(request)
