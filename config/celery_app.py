import os

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.embedded")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def _connections_kept_as_a_request_keeps_them(sender=None, **kwargs):
    """A task treats the database connection as a web request does: kept for CONN_MAX_AGE,
    checked before its first use (CONN_MAX_AGE and health checks in DATABASES), dropped after
    an error or a transaction left open. Celery's own Django fixup would close it around every
    task (see CELERY_DB_REUSE_MAX), which cost more than a small task's work in both processes."""
    if getattr(getattr(sender, "request", None), "is_eager", False):
        return  # runs inside the caller's connection and transaction
    from django.db import close_old_connections

    close_old_connections()
