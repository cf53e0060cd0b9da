from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ads import policy, reports, services
from ads.forms import AdjustForm, ApproveForm, RejectForm, TopUpForm
from ads.models import (
    Advertiser,
    Boost,
    Campaign,
    Creative,
    DailyStat,
    LedgerEntry,
)
from ads.placements import PLACEMENTS
from ads.serving import index_rebuild
from ads.views import previews_for


class ReadOnlyMixin:
    """Rows written only by services (money, counts): staff read them here."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class LedgerInline(ReadOnlyMixin, admin.TabularInline):
    model = LedgerEntry
    fields = ["created_at", "kind", "amount", "vat", "campaign", "reference"]
    readonly_fields = fields
    extra = 0
    max_num = 0
    ordering = ["-created_at"]


@admin.register(Advertiser)
class AdvertiserAdmin(admin.ModelAdmin):
    list_display = [
        "business_name",
        "contact_name",
        "user",
        "balance_npr",
        "created_at",
    ]
    search_fields = ["business_name", "contact_name", "user__email"]
    raw_id_fields = ["user"]
    inlines = [LedgerInline]
    readonly_fields = ["balance_npr", "money_actions"]

    @admin.display(description=gettext_lazy("balance"))
    def balance_npr(self, obj):
        return services.npr_paisa(obj.balance) if obj.pk else "–"

    @admin.display(description=gettext_lazy("money"))
    def money_actions(self, obj):
        if not obj.pk:
            return "–"
        return format_html(
            '<a class="button" href="{}">{}</a> <a class="button" href="{}">{}</a>',
            reverse("admin:ads_advertiser_topup", args=[obj.pk]),
            _("Record a top-up"),
            reverse("admin:ads_advertiser_adjust", args=[obj.pk]),
            _("Adjust the balance"),
        )

    def get_urls(self):
        return [
            path(
                "<int:pk>/topup/",
                self.admin_site.admin_view(self.topup_view),
                name="ads_advertiser_topup",
            ),
            path(
                "<int:pk>/adjust/",
                self.admin_site.admin_view(self.adjust_view),
                name="ads_advertiser_adjust",
            ),
            *super().get_urls(),
        ]

    def _money_view(self, request, pk, form_class, title, apply):
        if not self.has_change_permission(request):
            raise PermissionDenied
        advertiser = get_object_or_404(Advertiser, pk=pk)
        form = form_class(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                apply(advertiser, form.cleaned_data)
            except ValidationError as error:
                form.add_error(None, error)
            else:
                messages.success(request, _("Recorded."))
                return redirect("admin:ads_advertiser_change", advertiser.pk)
        return TemplateResponse(
            request,
            "admin/ads/money_form.html",
            {
                **self.admin_site.each_context(request),
                "title": title,
                "advertiser": advertiser,
                "balance": services.npr_paisa(advertiser.balance),
                "form": form,
                "opts": self.model._meta,
            },
        )

    def topup_view(self, request, pk):
        return self._money_view(
            request,
            pk,
            TopUpForm,
            _("Record a top-up"),
            lambda adv, data: services.ledger_topup(
                advertiser=adv,
                paid=data["paid"],
                reference=data["reference"],
                staff=request.user,
            ),
        )

    def adjust_view(self, request, pk):
        return self._money_view(
            request,
            pk,
            AdjustForm,
            _("Adjust the balance"),
            lambda adv, data: services.ledger_adjust(
                advertiser=adv,
                amount=data["amount"],
                reason=data["reason"],
                staff=request.user,
            ),
        )


class CreativeInline(admin.StackedInline):
    model = Creative
    fields = ["headline", "text", "target_url", "display_domain", "alt_text"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "advertiser",
        "status",
        "placement_list",
        "submitted_at",
        "review_link",
    ]
    list_filter = ["status", "price_model"]
    search_fields = ["name", "advertiser__business_name"]
    ordering = ["-submitted_at", "-id"]
    inlines = [CreativeInline]
    actions = ["pause_campaigns"]
    readonly_fields = [
        "advertiser",
        "status",
        "placements_described",
        "rejection_reason",
        "pause_reason",
        "ended_reason",
        "submitted_at",
        "reviewed_at",
        "reviewed_by",
        "review_link",
    ]
    fields = [
        "advertiser",
        "name",
        "status",
        "review_link",
        "placements_described",
        "localities",
        "property_types",
        "rent_min",
        "rent_max",
        "starts_at",
        "ends_at",
        "total_budget",
        "daily_budget",
        "price_model",
        "price",
        "frequency_cap",
        "rejection_reason",
        "pause_reason",
        "ended_reason",
        "submitted_at",
        "reviewed_at",
        "reviewed_by",
    ]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        """A staff edit (budget, schedule, targeting) reaches the pages at once."""
        super().save_model(request, obj, form, change)
        transaction.on_commit(index_rebuild)

    @admin.display(description=gettext_lazy("placements"))
    def placement_list(self, obj):
        return ", ".join(obj.placement_names())

    @admin.display(description=gettext_lazy("placements"))
    def placements_described(self, obj):
        return format_html_join(
            "",
            "<p><strong>{}</strong>: {}</p>",
            (
                (PLACEMENTS[p].name, PLACEMENTS[p].description)
                for p in obj.placements
                if p in PLACEMENTS
            ),
        )

    @admin.display(description=gettext_lazy("review"))
    def review_link(self, obj):
        if not obj.pk:
            return "–"
        label = _("Review") if obj.status == Campaign.Status.REVIEW else _("Preview")
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:ads_campaign_review", args=[obj.pk]),
            label,
        )

    @admin.action(description=gettext_lazy("Pause the selected campaigns"))
    def pause_campaigns(self, request, queryset):
        paused = 0
        for campaign in queryset:
            if campaign.can_be_paused:
                services.campaign_pause(campaign=campaign, by_staff=True)
                paused += 1
        messages.success(request, _("%(n)s campaign(s) paused.") % {"n": paused})

    def get_urls(self):
        return [
            path(
                "<int:pk>/review/",
                self.admin_site.admin_view(self.review_view),
                name="ads_campaign_review",
            ),
            path(
                "revenue/",
                self.admin_site.admin_view(self.revenue_view),
                name="ads_campaign_revenue",
            ),
            *super().get_urls(),
        ]

    def review_view(self, request, pk):
        """The review queue's page: the ads as served, the policy, approve or reject."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        campaign = get_object_or_404(
            Campaign.objects.select_related("advertiser__user"), pk=pk
        )
        approve = ApproveForm(request.POST if "approve" in request.POST else None)
        reject = RejectForm(request.POST if "reject" in request.POST else None)
        try:
            if "approve" in request.POST and approve.is_valid():
                services.campaign_approve(campaign=campaign, staff=request.user)
                messages.success(request, _("Approved: the campaign is live."))
                return redirect("admin:ads_campaign_changelist")
            if "reject" in request.POST and reject.is_valid():
                services.campaign_reject(
                    campaign=campaign,
                    staff=request.user,
                    reason=reject.cleaned_data["reason"],
                )
                messages.success(request, _("Rejected; the advertiser is emailed."))
                return redirect("admin:ads_campaign_changelist")
            if "pause" in request.POST:
                services.campaign_pause(campaign=campaign, by_staff=True)
                messages.success(request, _("Paused."))
                return redirect("admin:ads_campaign_review", campaign.pk)
            if "resume" in request.POST:
                services.campaign_resume(campaign=campaign, by_staff=True)
                messages.success(request, _("Resumed."))
                return redirect("admin:ads_campaign_review", campaign.pk)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        creatives = list(campaign.creatives.all())
        return TemplateResponse(
            request,
            "admin/ads/campaign_review.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Review “%(name)s”") % {"name": campaign.name},
                "campaign": campaign,
                "previews": previews_for(campaign, creatives),
                "warnings": policy.warnings(campaign, creatives),
                "rules": policy.RULES,
                "approve_form": approve,
                "reject_form": reject,
                "opts": self.model._meta,
            },
        )

    def revenue_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        return TemplateResponse(
            request,
            "admin/ads/revenue.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Ads revenue by day and placement"),
                "report": reports.revenue_by_day_and_placement(),
                "opts": self.model._meta,
            },
        )


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = [
        "created_at",
        "advertiser",
        "kind",
        "amount",
        "vat",
        "campaign",
        "reference",
    ]
    list_filter = ["kind"]
    search_fields = ["advertiser__business_name", "reference"]
    list_select_related = ["advertiser", "campaign"]


@admin.register(DailyStat)
class DailyStatAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = [
        "day",
        "campaign",
        "placement",
        "served",
        "viewable",
        "clicks",
        "spend_milli",
    ]
    list_filter = ["placement", "day"]
    list_select_related = ["campaign"]


@admin.register(Boost)
class BoostAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = [
        "listing",
        "advertiser",
        "days",
        "starts_at",
        "ends_at",
        "status",
        "refunded_days",
    ]
    list_filter = ["status"]
    list_select_related = ["listing", "advertiser"]
