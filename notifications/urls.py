from django.urls import path

from . import views

urlpatterns = [
    path("", views.index, name="notifications"),
    path("dev-outbox/", views.dev_outbox, name="dev_outbox"),
    path("dev-outbox/<int:message_id>/", views.dev_outbox_message, name="dev_outbox_message"),
]
