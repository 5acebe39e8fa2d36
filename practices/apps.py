from django.apps import AppConfig


class PracticesConfig(AppConfig):
    name = "practices"
    default_auto_field = "django.db.models.BigAutoField"
