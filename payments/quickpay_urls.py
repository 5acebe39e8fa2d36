"""Public addresses: the QuickPay page, the sandbox checkout and Stripe's webhook (no login)."""

from django.urls import path, register_converter

from . import quickpay_views, webhooks
from .quickpay import TOKEN_PATTERN


class TokenConverter:
    regex = TOKEN_PATTERN

    def to_python(self, value):
        return value

    def to_url(self, value):
        return value


register_converter(TokenConverter, "quickpay_token")

urlpatterns = [
    path("p/<quickpay_token:token>", quickpay_views.quickpay_page, name="quickpay"),
    path("p/<quickpay_token:token>/paid", quickpay_views.quickpay_paid, name="quickpay_paid"),
    path("checkout/sandbox/<str:session_id>/", quickpay_views.sandbox_checkout, name="sandbox_checkout"),
    path("webhooks/stripe", webhooks.stripe_webhook, name="stripe_webhook"),
]
