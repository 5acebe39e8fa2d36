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
from .bulk_requests import (
    NOT_RESENDABLE,
    OPEN_STATES,
    CampaignState,
    ContactFix,
    PaymentRequestCampaign,
    RequestHour,
    RequestList,
    RequestListEntry,
    Snooze,
    SnoozeEnd,
    SnoozeReason,
    UndeliverableReason,
)
from .quickpay import (
    PAID_STATUSES,
    REQUEST_MINIMUMS,
    Gateway,
    GatewayEvent,
    LinkChannel,
    LinkSource,
    Payment,
    PaymentSettings,
    PaymentStatus,
    QuickPayLink,
    QuickPayOpen,
    RequestAging,
    SandboxCheckout,
)
from .rollups import LinkDay, PaymentDay

__all__ = [
    "NOT_RESENDABLE", "OPEN_STATES", "PAID_STATUSES", "REQUEST_MINIMUMS", "Alert", "AlertDelivery",
    "AlertPreference", "AlertTimer", "Application", "ApplicationEvent", "CampaignState", "ContactFix",
    "EventType", "Gateway", "GatewayEvent", "LinkChannel", "LinkDay", "LinkSource", "Payment",
    "PaymentDay", "PaymentRequestCampaign", "PaymentSettings", "PaymentStatus", "QuickPayLink",
    "QuickPayOpen", "RequestAging", "RequestHour", "RequestList", "RequestListEntry", "SandboxCheckout",
    "Snooze", "SnoozeEnd", "SnoozeReason", "UndeliverableReason",
]
