"""Payments: payment-plan applications and their alerts; QuickPay links, payments and the gateway."""

from .applications import (
    Alert,
    AlertDelivery,
    AlertPreference,
    AlertTimer,
    Application,
    ApplicationEvent,
    EventType,
)
from .quickpay import (
    PAID_STATUSES,
    Gateway,
    GatewayEvent,
    LinkChannel,
    LinkSource,
    Payment,
    PaymentSettings,
    PaymentStatus,
    QuickPayLink,
    QuickPayOpen,
    SandboxCheckout,
)
from .rollups import LinkDay, PaymentDay

__all__ = [
    "PAID_STATUSES", "Alert", "AlertDelivery", "AlertPreference", "AlertTimer", "Application",
    "ApplicationEvent", "EventType", "Gateway", "GatewayEvent", "LinkChannel", "LinkDay", "LinkSource",
    "Payment", "PaymentDay", "PaymentSettings", "PaymentStatus", "QuickPayLink", "QuickPayOpen",
    "SandboxCheckout",
]
