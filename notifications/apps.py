from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from anymail.signals import tracking

        from .provider_events import email_tracking_receiver

        tracking.connect(email_tracking_receiver, dispatch_uid="notifications.email_tracking")
