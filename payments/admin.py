from django.contrib import admin

from .models import (
    AlertDelivery,
    AlertPreference,
    AlertTimer,
    Application,
    ApplicationEvent,
    GatewayEvent,
    Payment,
    PaymentSettings,
    QuickPayLink,
)


@admin.register(Application)
class ApplicationAdmin(admin.ModelAdmin):
    list_display = ["external_id", "practice", "state", "state_at"]
    list_filter = ["state"]


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
    list_display = ["pk", "practice", "amount", "status", "gateway", "created_at"]
    list_filter = ["status", "gateway"]
    readonly_fields = ["balance_effect", "change_seq"]


@admin.register(QuickPayLink)
class QuickPayLinkAdmin(admin.ModelAdmin):
    list_display = ["pk", "practice", "source", "channel", "created_at", "expires_at", "revoked_at"]
    exclude = ["token_hash"]


admin.site.register([ApplicationEvent, AlertTimer, AlertDelivery, AlertPreference, PaymentSettings,
                     GatewayEvent])
