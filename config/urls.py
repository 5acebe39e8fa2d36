from django.urls import include, path, re_path

from config.api import api, not_found
from notifications import webhooks as notification_webhooks

urlpatterns = [
    path("api/v1/", api.urls),
    re_path(r"^api/", not_found),
    path("patients/", include("patients.urls")),
    path("statements/", include("statements.urls")),
    path("notifications/", include("notifications.urls")),
    path("payments/", include("payments.urls")),
    path("", include("payments.quickpay_urls")),
    path("webhooks/", include("notifications.webhook_urls")),
    path("unsubscribe/<str:token>/", notification_webhooks.email_unsubscribe,
         name="email_unsubscribe"),
    path("", include("practices.urls")),
]
