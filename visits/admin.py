from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from visits import services, slots
from visits.models import (
    Availability,
    BlockedDate,
    DateWindow,
    Slot,
    Visit,
    VisitEvent,
    VisitFeedback,
    WeeklyWindow,
)


class VisitEventInline(admin.TabularInline):
    model = VisitEvent
    extra = 0
    can_delete = False
    fields = ("created_at", "kind", "status", "actor", "slot_starts_at", "text")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Visit)
class VisitAdmin(admin.ModelAdmin):
    list_display = ("id", "listing", "tenant", "starts", "status", "created_at")
    list_filter = (
        "status",
        ("slot__starts_at", admin.DateFieldListFilter),
        ("listing", admin.RelatedOnlyFieldListFilter),
    )
    search_fields = ("listing__title", "tenant__email", "listing__owner__email")
    list_select_related = ("listing", "tenant", "slot")
    raw_id_fields = ("listing", "tenant", "slot", "proposed_slot", "cancelled_by")
    readonly_fields = ("idempotency_key", "reminder_24h_sent_at", "reminder_2h_sent_at")
    date_hierarchy = "created_at"
    inlines = [VisitEventInline]

    @admin.display(description=_("time"), ordering="slot__starts_at")
    def starts(self, visit):
        return slots.format_visit_time(visit.slot.starts_at)


class NeedsReviewFilter(admin.SimpleListFilter):
    title = _("review")
    parameter_name = "review"

    def lookups(self, request, model_admin):
        return [("needed", _("Needs review")), ("resolved", _("Resolved"))]

    def queryset(self, request, queryset):
        if self.value() == "needed":
            return queryset.needing_review()
        if self.value() == "resolved":
            return queryset.filter(resolved_at__isnull=False)
        return queryset


@admin.register(VisitFeedback)
class VisitFeedbackAdmin(admin.ModelAdmin):
    list_display = (
        "visit",
        "listing",
        "listing_accurate",
        "commission_asked",
        "needs_review",
        "resolved_at",
        "created_at",
    )
    list_filter = (NeedsReviewFilter, "commission_asked", "listing_accurate")
    list_select_related = ("visit__listing",)
    search_fields = ("visit__listing__title", "visit__tenant__email", "comment")
    readonly_fields = (
        "visit",
        "listing_accurate",
        "commission_asked",
        "comment",
        "needs_review",
        "resolved_at",
        "resolved_by",
        "created_at",
    )
    actions = ("resolve",)

    @admin.display(description=_("listing"))
    def listing(self, feedback):
        return feedback.visit.listing

    def has_add_permission(self, request):
        return False

    @admin.action(description=_("Mark the selected feedback as resolved"))
    def resolve(self, request, queryset):
        count = services.visit_feedback_resolve(feedbacks=queryset, staff=request.user)
        self.message_user(request, _("%(n)d feedback items resolved.") % {"n": count})


@admin.register(Availability)
class AvailabilityAdmin(admin.ModelAdmin):
    list_display = (
        "listing",
        "slot_minutes",
        "capacity",
        "instant_booking",
        "updated_at",
    )
    list_filter = ("instant_booking",)
    raw_id_fields = ("listing",)
    search_fields = ("listing__title",)


@admin.register(Slot)
class SlotAdmin(admin.ModelAdmin):
    list_display = ("listing", "starts_at", "capacity", "booked")
    list_filter = (("starts_at", admin.DateFieldListFilter),)
    raw_id_fields = ("listing",)


admin.site.register(
    DateWindow,
    raw_id_fields=("listing",),
    list_display=("listing", "date", "start_time", "end_time"),
)
admin.site.register(
    BlockedDate, raw_id_fields=("listing",), list_display=("listing", "date", "reason")
)
admin.site.register(
    WeeklyWindow,
    raw_id_fields=("listing",),
    list_display=("listing", "weekday", "start_time", "end_time"),
)
