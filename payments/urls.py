from django.urls import path

from . import views
from .analytics import views as analytics

urlpatterns = [
    path("", views.index, name="payments"),
    path("applications/<int:application_id>/", views.application_detail, name="application_detail"),
    path("alerts/", views.alert_preferences, name="alert_preferences"),
    path("received/", views.payment_list, name="payment_list"),
    path("analytics/", analytics.analytics, name="payment_analytics"),
    path("analytics/export.csv", analytics.analytics_csv, name="payment_analytics_csv"),
    path("settings/", views.payment_settings, name="payment_settings"),
    path("guarantors/<int:guarantor_id>/links/", views.quickpay_link_create, name="quickpay_link_create"),
    path("links/<int:link_id>/revoke/", views.quickpay_link_revoke, name="quickpay_link_revoke"),
]
