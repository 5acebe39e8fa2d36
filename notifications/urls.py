from django.urls import path

from . import views

urlpatterns = [
    path("", views.index, name="notifications"),
    path("history/", views.history, name="notification_history"),
    path("errors/", views.errors, name="notification_errors"),
    path("errors/bulk/", views.bulk, name="notification_bulk"),
    path("counts/", views.counts, name="notification_counts"),
    path("settings/", views.messaging_settings, name="messaging_settings"),
    path("<int:notification_id>/", views.detail, name="notification_detail"),
    path("<int:notification_id>/cancel/", views.cancel, name="notification_cancel"),
    path("<int:notification_id>/retry/", views.retry, name="notification_retry"),
    path("dev-outbox/", views.dev_outbox, name="dev_outbox"),
    path("dev-outbox/<int:message_id>/", views.dev_outbox_message, name="dev_outbox_message"),
]
