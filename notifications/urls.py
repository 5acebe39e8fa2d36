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
    path("templates/", views.message_template_list, name="message_templates"),
    path("templates/new/", views.message_template_new, name="message_template_new"),
    path("templates/check/", views.message_template_check, name="message_template_check"),
    path("templates/<int:template_id>/", views.message_template_edit, name="message_template_edit"),
    path("dev-outbox/", views.dev_outbox, name="dev_outbox"),
    path("dev-outbox/<int:message_id>/", views.dev_outbox_message, name="dev_outbox_message"),
]
