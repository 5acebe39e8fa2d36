from django.urls import path

from . import views
from .analytics import views as analytics
from .bulk_requests import views as requests

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
    path("requests/", requests.request_list, name="payment_requests"),
    path("requests/counts/", requests.request_list_counts, name="payment_requests_counts"),
    path("requests/make/", requests.request_list_make_now, name="payment_requests_make"),
    path("requests/select/", requests.request_select, name="payment_requests_select"),
    path("requests/send/", requests.request_send, name="payment_requests_send"),
    path("requests/snooze/", requests.request_snooze, name="payment_requests_snooze"),
    path("requests/unsnooze/", requests.request_unsnooze, name="payment_requests_unsnooze"),
    path("requests/search/", requests.request_search, name="payment_requests_search"),
    path("undeliverable/", requests.undeliverable_list, name="payment_requests_undeliverable"),
    path("undeliverable/<int:campaign_id>/", requests.undeliverable_fix, name="payment_request_fix"),
    path("undeliverable/<int:campaign_id>/remove/", requests.undeliverable_dismiss,
         name="payment_request_dismiss"),
    path("undeliverable/numbers/<int:fix_id>/forget/", requests.contact_fix_forget,
         name="payment_request_fix_forget"),
]
