from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Count, Exists, OuterRef, Q, Subquery
from django.shortcuts import render
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.models import User, normalize_nepali_phone
from accounts.services import accounts_sharing_phone
from listings import services
from listings.forms import RejectForm
from listings.models import Listing, ListingPhoto, ListingReport, Locality, Shortlist
from listings.search import split_text, text_q

# An admin search by email, name or phone looks at this many owners at most.
MAX_SEARCHED_OWNERS = 500


@admin.register(Locality)
class LocalityAdmin(admin.ModelAdmin):
    list_display = ("name", "district", "aliases", "latitude", "longitude")
    list_filter = ("district",)
    search_fields = ("name", "aliases")
    prepopulated_fields = {"slug": ("name",)}


def _thumb(photo, size=120):
    if not photo or not photo.thumb:
        return "—"
    return format_html(
        '<img src="{}" width="{}" alt="" class="admin-thumb">',
        photo.thumb.url,
        size,
    )


class ListingPhotoInline(admin.TabularInline):
    model = ListingPhoto
    extra = 0
    fields = ("preview", "position", "is_cover", "width", "height")
    readonly_fields = ("preview", "width", "height")
    ordering = ("position", "id")
    can_delete = True

    def has_add_permission(self, request, obj=None):
        # Photos arrive through the owner's upload page, which re-encodes them.
        return False

    @admin.display(description=_("photo"))
    def preview(self, photo):
        return _thumb(photo, 200)


class ReportInline(admin.TabularInline):
    model = ListingReport
    fk_name = "listing"
    extra = 0
    fields = ("reason", "details", "reporter", "status", "created_at")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class CappedPaginator(Paginator):
    """Counts at most MAX_COUNTED rows: counting every listing that matches a
    common word takes seconds at a million listings. The changelist then says
    "10,000+" and pages no further than that."""

    MAX_COUNTED = 10_000

    @cached_property
    def count(self):
        found = self.object_list.order_by().values("pk")[: self.MAX_COUNTED + 1].count()
        self.capped = found > self.MAX_COUNTED
        return min(found, self.MAX_COUNTED)

    capped = False


class OpenReportsFilter(admin.SimpleListFilter):
    title = _("open reports")
    parameter_name = "reported"

    def lookups(self, request, model_admin):
        return [("yes", _("With open reports")), ("no", _("Without"))]

    def queryset(self, request, queryset):
        open_reports = ListingReport.objects.filter(
            listing=OuterRef("pk"), status=ListingReport.Status.OPEN
        )
        if self.value() == "yes":
            return queryset.filter(Exists(open_reports))
        if self.value() == "no":
            return queryset.exclude(Exists(open_reports))
        return queryset


class LocalityFilter(admin.SimpleListFilter):
    """
    The valley's localities as one box to type in (a datalist the browser
    filters while typing) instead of a column of 74 links. Takes a slug, or a
    name typed in full.
    """

    title = _("locality")
    parameter_name = "locality"
    template = "admin/listings/listing/locality_filter.html"

    def lookups(self, request, model_admin):
        return [(loc.slug, loc.name) for loc in Locality.objects.order_by("name")]

    def queryset(self, request, queryset):
        value = (self.value() or "").strip()
        if not value:
            return queryset
        locality = Locality.objects.filter(
            Q(slug=value) | Q(name__iexact=value)
        ).first()
        return queryset.filter(locality=locality) if locality else queryset.none()

    def choices(self, changelist):
        yield {
            "selected": self.value() is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": _("All"),
            "value": self.value() or "",
            "options": self.lookup_choices,
            "hidden": [
                (name, value)
                for name, values in changelist.filter_params.items()
                if name != self.parameter_name
                for value in values
            ],
        }


@admin.register(Listing)
class ListingAdmin(admin.ModelAdmin):
    list_display = (
        "cover_preview",
        "title",
        "owner_link",
        "locality",
        "property_type",
        "rent",
        "status",
        "open_reports",
        "created_at",
    )
    list_display_links = ("cover_preview", "title")
    list_filter = (
        "status",
        OpenReportsFilter,
        "property_type",
        "locality__district",
        LocalityFilter,
        ("created_at", admin.DateFieldListFilter),
    )
    # Searched by get_search_results below: the listing's words through the
    # full-text index on PostgreSQL, the owner's email, name or phone, the id.
    search_fields = (
        "title",
        "description",
        "owner__email",
        "owner__full_name",
        "owner__phone",
        "=id",
    )
    list_select_related = ("owner", "locality")
    raw_id_fields = ("owner", "locality")
    readonly_fields = (
        "status",
        "published_at",
        "expires_at",
        "reminder_sent_at",
        "view_count",
        "created_at",
        "updated_at",
    )
    inlines = [ListingPhotoInline, ReportInline]
    actions = ["approve", "reject", "trust_owners"]
    list_per_page = 50
    # At a million listings the changelist must stay cheap: newest first by the
    # primary key, open reports counted only for the rows shown, no full count
    # of the table beside the filtered one, and no date drill-down (it scans
    # every row for the years and months).
    ordering = ("-id",)
    show_full_result_count = False
    paginator = CappedPaginator
    # Sorting a million rows by a joined column takes seconds; these two are cheap.
    sortable_by = ("rent", "created_at")

    def get_queryset(self, request):
        open_reports = (
            ListingReport.objects.filter(
                listing=OuterRef("pk"), status=ListingReport.Status.OPEN
            )
            .order_by()
            .values("listing")
            .annotate(n=Count("id"))
            .values("n")
        )
        return (
            super()
            .get_queryset(request)
            .annotate(open_report_count=Subquery(open_reports))
            .for_cards()
        )

    def get_search_results(self, request, queryset, search_term):
        """Words match the title and description through the full-text index
        (PostgreSQL; Django's own search elsewhere); an email, name or phone
        finds the owner's listings; a number also finds that listing id."""
        term = search_term.strip()
        if not term or connection.vendor != "postgresql":
            return super().get_search_results(request, queryset, term)
        # As a list of ids, so PostgreSQL can combine the index scans.
        owner_ids = list(
            User.objects.filter(
                Q(email__icontains=term)
                | Q(full_name__icontains=term)
                | Q(phone=normalize_nepali_phone(term))
            ).values_list("pk", flat=True)[:MAX_SEARCHED_OWNERS]
        )
        matches = Q(owner_id__in=owner_ids)
        _, words = split_text(term)
        if words:
            matches |= text_q(words)
        if term.isdigit() and len(term) < 10:
            matches |= Q(pk=int(term))
        return queryset.filter(matches), False

    @admin.display(description=_("cover"))
    def cover_preview(self, listing):
        return _thumb(listing.cover, 80)

    @admin.display(description=_("owner"), ordering="owner__email")
    def owner_link(self, listing):
        owner = listing.owner
        flags = []
        if owner.is_trusted_owner:
            flags.append("✓ trusted")
        if owner.is_flagged:
            flags.append("⚑ flagged")
        if not owner.email_verified:
            flags.append("email unverified")
        return format_html(
            "{}<br><small>{}</small>", owner.email, ", ".join(flags) or "new"
        )

    @admin.display(description=_("open reports"))
    def open_reports(self, listing):
        return listing.open_report_count or ""

    @admin.action(description=_("Approve and publish the selected listings"))
    def approve(self, request, queryset):
        done, skipped = 0, 0
        for listing in queryset.select_related("owner"):
            try:
                services.listing_approve(listing=listing)
                done += 1
            except ValidationError:
                skipped += 1
        if done:
            self.message_user(
                request,
                ngettext(
                    "%(n)d listing published; its owner was emailed.",
                    "%(n)d listings published; their owners were emailed.",
                    done,
                )
                % {"n": done},
                messages.SUCCESS,
            )
        if skipped:
            self.message_user(
                request,
                _("%(n)d listing(s) skipped: only pending listings can be approved.")
                % {"n": skipped},
                messages.WARNING,
            )

    @admin.action(description=_("Reject the selected listings (with a reason)…"))
    def reject(self, request, queryset):
        form = RejectForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            count = 0
            for listing in queryset.select_related("owner"):
                services.listing_reject(
                    listing=listing, reason=form.cleaned_data["reason"]
                )
                count += 1
            self.message_user(
                request,
                _("%(n)d listing(s) rejected; the owners were emailed the reason.")
                % {"n": count},
                messages.SUCCESS,
            )
            return None
        return render(
            request,
            "admin/listings/listing/reject.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Reject listings"),
                "listings": queryset,
                "form": form,
                "opts": self.model._meta,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            },
        )

    @admin.action(description=_("Mark the owners as trusted (publish without review)"))
    def trust_owners(self, request, queryset):
        owner_ids = set(queryset.values_list("owner_id", flat=True))
        updated = User.objects.filter(pk__in=owner_ids).update(
            is_trusted_owner=True, is_flagged=False, flag_reason=""
        )
        self.message_user(
            request,
            _("%(n)d owner(s) marked trusted.") % {"n": updated},
            messages.SUCCESS,
        )


@admin.register(ListingReport)
class ListingReportAdmin(admin.ModelAdmin):
    list_display = (
        "listing",
        "reason",
        "owner",
        "owner_phone_accounts",
        "reporter",
        "status",
        "created_at",
    )
    list_filter = ("status", "reason")
    search_fields = ("listing__title", "listing__owner__email", "reporter__email")
    list_select_related = ("listing__owner", "reporter")
    raw_id_fields = ("listing", "reporter", "resolved_by")
    readonly_fields = ("resolved_by", "resolved_at", "created_at")
    actions = ["uphold", "dismiss"]

    @admin.display(description=_("owner"))
    def owner(self, report):
        return report.listing.owner

    @admin.display(description=_("accounts with the owner's phone"))
    def owner_phone_accounts(self, report):
        owner = report.listing.owner
        if not owner.phone:
            return "—"
        return accounts_sharing_phone(owner).count() + 1

    @admin.action(description=_("Uphold: take the listing down and flag the owner"))
    def uphold(self, request, queryset):
        for report in queryset.select_related("listing__owner"):
            services.report_resolve(report=report, upheld=True, staff=request.user)
        self.message_user(request, _("Reports upheld."), messages.SUCCESS)

    @admin.action(description=_("Dismiss the selected reports"))
    def dismiss(self, request, queryset):
        for report in queryset.select_related("listing__owner"):
            services.report_resolve(report=report, upheld=False, staff=request.user)
        self.message_user(request, _("Reports dismissed."), messages.SUCCESS)


@admin.register(Shortlist)
class ShortlistAdmin(admin.ModelAdmin):
    list_display = ("user", "listing", "created_at")
    raw_id_fields = ("user", "listing")
