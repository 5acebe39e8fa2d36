from django.urls import path

from . import views

urlpatterns = [
    path("", views.index, name="payments"),
    path("applications/<int:application_id>/", views.application_detail, name="application_detail"),
    path("alerts/", views.alert_preferences, name="alert_preferences"),
]
