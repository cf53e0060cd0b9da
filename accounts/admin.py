from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from accounts.forms import mobile_field
from accounts.models import Notification, User, normalize_nepali_phone


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ("-date_joined",)
    list_display = (
        "email",
        "full_name",
        "phone",
        "role",
        "email_verified",
        "is_trusted_owner",
        "is_flagged",
        "is_staff",
        "date_joined",
    )
    list_filter = (
        "role",
        "email_verified",
        "is_trusted_owner",
        "is_flagged",
        "is_staff",
        "is_active",
    )
    search_fields = ("email", "full_name", "phone")
    readonly_fields = ("last_login", "date_joined")

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        # Staff type numbers as everyone does: "+977 984-1234567" fits and is stored
        # in the one form.
        if db_field.name == "phone":
            return mobile_field()
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def get_search_results(self, request, queryset, search_term):
        queryset, duplicates = super().get_search_results(
            request, queryset, search_term
        )
        phone = normalize_nepali_phone(search_term)
        if phone != search_term.strip() and phone.startswith("+977"):
            queryset |= self.model.objects.filter(phone=phone)
        return queryset, duplicates

    actions = ("mark_trusted", "clear_flag")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Person"), {"fields": ("full_name", "phone", "role", "email_verified")}),
        (_("Trust"), {"fields": ("is_trusted_owner", "is_flagged", "flag_reason")}),
        (
            _("Permissions"),
            {
                "fields": (
                    "is_active",
                    "is_staff",
                    "is_superuser",
                    "groups",
                    "user_permissions",
                )
            },
        ),
        (_("Dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "full_name", "role", "password1", "password2"),
            },
        ),
    )

    @admin.action(description=_("Mark selected owners as trusted"))
    def mark_trusted(self, request, queryset):
        updated = queryset.update(is_trusted_owner=True)
        self.message_user(request, _("%(n)d owners marked trusted.") % {"n": updated})

    @admin.action(description=_("Clear the review flag"))
    def clear_flag(self, request, queryset):
        updated = queryset.update(is_flagged=False, flag_reason="")
        self.message_user(request, _("%(n)d accounts cleared.") % {"n": updated})


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("user", "kind", "text", "created_at", "read_at")
    list_filter = ("kind", ("read_at", admin.EmptyFieldListFilter))
    search_fields = ("user__email", "text")
    raw_id_fields = ("user",)
