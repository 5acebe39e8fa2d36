from django.contrib import admin

from .models import ApiKey, AuditEvent, Membership, Practice, User

admin.site.register(User)
admin.site.register(Practice)
admin.site.register(Membership)
admin.site.register(AuditEvent)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["prefix", "practice", "label", "created_at", "revoked_at"]
    readonly_fields = ["key_hash"]
