from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _triggers_ensure(sender, using, **kwargs):
    from django.db import connections

    from .triggers import sqlite_ensure

    sqlite_ensure(connections[using])


class NotificationsConfig(AppConfig):
    name = "notifications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from anymail.signals import tracking

        from .provider_events import email_tracking_receiver

        tracking.connect(email_tracking_receiver, dispatch_uid="notifications.email_tracking")
        post_migrate.connect(_triggers_ensure, sender=self, dispatch_uid="notifications.triggers")
