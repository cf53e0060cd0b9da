from django.contrib import admin

from searches.models import SavedSearch


@admin.register(SavedSearch)
class SavedSearchAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "frequency", "email", "notify", "last_alert_at")
    list_filter = ("frequency",)
    raw_id_fields = ("user",)
    search_fields = ("name",)
    show_full_result_count = False
