from django.contrib import admin

from .models import AlertDelivery, AlertPreference, AlertTimer, Application, ApplicationEvent


@admin.register(Application)
class ApplicationAdmin(admin.ModelAdmin):
    list_display = ["external_id", "practice", "state", "state_at"]
    list_filter = ["state"]


admin.site.register([ApplicationEvent, AlertTimer, AlertDelivery, AlertPreference])
