from django.contrib import admin
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from messaging.models import Block, Conversation, Message, Report


def transcript(conversation: Conversation) -> str:
    """The whole conversation as escaped text, oldest first, for moderators."""
    messages = conversation.messages.select_related("sender").order_by("id")
    rows = format_html_join(
        "",
        '<p class="admin-transcript-line"><strong>{}</strong> <small>{}</small>{}<br>{}</p>',
        (
            (
                message.sender.full_name or message.sender.email,
                timezone.localtime(message.created_at).strftime(
                    "%a, %-d %b %Y · %-I:%M %p"
                ),
                format_html(" <mark>{}</mark>", _("asks for money"))
                if message.asks_for_money
                else "",
                message.body,
            )
            for message in messages
        ),
    )
    return rows or _("No messages.")


class MessageInline(admin.TabularInline):
    model = Message
    fields = ("created_at", "sender", "body", "asks_for_money")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ("id", "listing", "tenant", "owner", "created_at", "last_message_at")
    search_fields = ("tenant__email", "owner__email", "listing__title")
    raw_id_fields = ("listing", "tenant", "owner")
    readonly_fields = (
        "created_at",
        "last_message_at",
        "tenant_read_up_to",
        "owner_read_up_to",
        "tenant_emailed_at",
        "owner_emailed_at",
    )
    inlines = [MessageInline]


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "reason",
        "reporter",
        "conversation_link",
        "resolved_at",
    )
    list_filter = ("reason", ("resolved_at", admin.EmptyFieldListFilter))
    search_fields = ("reporter__email", "details")
    readonly_fields = (
        "conversation_link",
        "reporter",
        "reason",
        "details",
        "created_at",
        "conversation_transcript",
    )
    fields = (
        "conversation_link",
        "reporter",
        "reason",
        "details",
        "created_at",
        "conversation_transcript",
        "staff_note",
        "resolved_at",
    )
    actions = ["mark_resolved"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related(
                "reporter",
                "conversation__listing",
                "conversation__tenant",
                "conversation__owner",
            )
        )

    def has_add_permission(self, request):
        return False

    @admin.display(description=_("conversation"))
    def conversation_link(self, report):
        url = reverse(
            "admin:messaging_conversation_change", args=[report.conversation_id]
        )
        return format_html('<a href="{}">{}</a>', url, report.conversation)

    @admin.display(description=_("messages"))
    def conversation_transcript(self, report):
        return transcript(report.conversation)

    @admin.action(description=_("Mark the selected reports as resolved"))
    def mark_resolved(self, request, queryset):
        count = queryset.filter(resolved_at__isnull=True).update(
            resolved_at=timezone.now()
        )
        self.message_user(
            request, _("%(n)s reports marked as resolved.") % {"n": count}
        )


@admin.register(Block)
class BlockAdmin(admin.ModelAdmin):
    list_display = ("blocker", "blocked", "created_at")
    search_fields = ("blocker__email", "blocked__email")
    raw_id_fields = ("blocker", "blocked")
