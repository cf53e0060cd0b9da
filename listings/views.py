from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from listings import cache as listing_cache
from listings import services, stats
from listings.forms import ListingForm, PhotoUploadForm, ReportForm
from listings.models import Listing, ListingPhoto, Shortlist
from listings.photos import MAX_PHOTOS
from listings.search import (
    MAX_RESULTS,
    build_search,
    locality_data,
    map_points,
    nearby_locality_ids,
    run_search,
)
from nobroker import page_cache
from nobroker.charts import day_label, line_chart
from nobroker.numbers import shown
from nobroker.redirects import redirect_next

SIMILAR_COUNT = 4


def _shortlisted_ids(user, listings) -> set[int]:
    if not user.is_authenticated or not listings:
        return set()
    return set(
        Shortlist.objects.filter(
            user=user, listing_id__in=[listing.pk for listing in listings]
        ).values_list("listing_id", flat=True)
    )


def search(request):
    query = build_search(request.GET)
    result = run_search(query)
    listings = result["listings"]
    stats.count_search_appearances(request, listings)
    fresh = {"search": query, "result": result, "listings": listings}
    if (cached := page_cache.serve(request, fresh)) is not None:
        return cached
    localities = query.localities or locality_data()
    selected_ids = set(query.locality_ids)
    response = render(
        request,
        "listings/listing_list.html",
        {
            "search": query,
            "form": query.form,
            "result": result,
            "listings": listings,
            "shortlisted": _shortlisted_ids(request.user, listings),
            "locality_options": localities["options"],
            "selected_localities": [
                row for row in localities["rows"] if row["id"] in selected_ids
            ],
            "selected_locality_ids": selected_ids,
            "max_results": MAX_RESULTS,
            "suggestions": query.relax_suggestions() if not listings else [],
            "map_view": request.GET.get("view") == "map",
            "map_points": map_points(listings, localities),
        },
    )
    return page_cache.keep(request, response, "listings/listing_list.html")


def _similar_queryset(listing):
    """
    The newest listings of the same type nearby. Each nearby locality gives
    its newest few from the (locality, type, newest) index, and the newest of
    those are shown: a few index entries per locality, whatever the planner
    guesses. Filtering the whole newest-first index by locality instead took
    from a few to thousands of milliseconds, depending on how soon matches
    turned up (migration 0006 has the index).
    """
    same_type = (
        Listing.objects.published()
        .filter(property_type=listing.property_type)
        .exclude(pk=listing.pk)
    )
    nearby = nearby_locality_ids(listing.locality_id)
    if connection.features.supports_slicing_ordering_in_compound:
        newest = same_type.order_by("-published_at", "-id").values("pk")
        per_locality = [
            newest.filter(locality_id=locality_id)[:SIMILAR_COUNT]
            for locality_id in nearby
        ]
        similar = Listing.objects.filter(
            pk__in=per_locality[0].union(*per_locality[1:], all=True)
        )
    else:
        # SQLite (the embedded default) takes no LIMIT inside a UNION; its
        # tables are small.
        similar = same_type.filter(locality_id__in=nearby)
    return similar.for_result_cards().order_by("-published_at", "-id")[:SIMILAR_COUNT]


def _detail_bundle(pk: int) -> dict | None:
    """The listing, its photos and similar listings nearby, cached while unchanged."""
    key = listing_cache.detail_key(pk)
    bundle = listing_cache.RECENT_DETAILS.read("listing_page", key)
    if bundle is not None:
        return bundle
    listing = Listing.objects.select_related("locality", "owner").filter(pk=pk).first()
    if listing is None:
        return None
    photos = list(listing.photos.all())
    similar = list(_similar_queryset(listing))
    bundle = {"listing": listing, "photos": photos, "similar": similar}
    if listing.is_published:
        cache.set(key, bundle, listing_cache.DETAIL_TIMEOUT)
        listing_cache.RECENT_DETAILS.put(key, bundle)
    return bundle


def listing_detail(request, pk, slug=None):
    bundle = _detail_bundle(pk)
    if bundle is None or not bundle["listing"].is_visible_to(request.user):
        raise Http404(_("No listing here."))
    listing = bundle["listing"]
    if slug != listing.slug:
        return redirect(listing, permanent=True)
    stats.count_view(request, listing)
    if (cached := page_cache.serve(request, {"listing": listing})) is not None:
        return cached
    response = render(
        request,
        "listings/listing_detail.html",
        {
            **bundle,
            "is_owner": listing.can_be_edited_by(request.user),
            "shortlisted": _shortlisted_ids(
                request.user, [listing, *bundle["similar"]]
            ),
            "canonical_url": request.build_absolute_uri(listing.get_absolute_url()),
        },
    )
    return page_cache.keep(request, response, "listings/listing_detail.html")


# --- Owners -----------------------------------------------------------------


def _own_listing(request, pk) -> Listing:
    """The request user's listing, or 404: others' listings do not exist here."""
    return get_object_or_404(
        Listing.objects.select_related("locality", "owner"), pk=pk, owner=request.user
    )


PERFORMANCE_DAYS = (30, 90)


@login_required
def listing_performance(request, pk):
    """The owner's numbers for one listing: chart, funnel, similar listings."""
    listing = _own_listing(request, pk)
    days = 90 if request.GET.get("days") == "90" else 30
    result = stats.listing_performance(listing=listing, days=days)
    chart = line_chart(
        title=_("Viewers, contacts and visit requests, last %(n)s days")
        % {"n": shown(days)},
        labels=[day_label(point["day"]) for point in result.series],
        series=[
            (_("Viewers"), "series-1", [p["unique_viewers"] for p in result.series]),
            (_("Contacts"), "series-2", [p["contacts"] for p in result.series]),
            (
                _("Visit requests"),
                "series-3",
                [p["visit_requests"] for p in result.series],
            ),
        ],
    )
    return render(
        request,
        "listings/listing_performance.html",
        {
            "listing": listing,
            "result": result,
            "chart": chart,
            "funnel": stats.funnel(result.totals),
            "similar_funnel": stats.funnel(
                {k: v or 0 for k, v in result.similar.items()}
            ),
            "day_choices": PERFORMANCE_DAYS,
        },
    )


@login_required
def my_listings(request):
    listings = (
        Listing.objects.owned_by(request.user)
        .with_stats()
        .for_cards()
        .order_by("-created_at", "-id")
    )
    return render(
        request,
        "listings/listing_mine.html",
        {"listings": listings, "needs_verification": not request.user.email_verified},
    )


@login_required
def listing_create(request):
    form = ListingForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        listing = services.listing_create(owner=request.user, form=form)
        messages.success(
            request, _("Draft saved. Add photos, then submit it for publication.")
        )
        return redirect("listings:photos", pk=listing.pk)
    return render(request, "listings/listing_form.html", {"form": form})


@login_required
def listing_edit(request, pk):
    listing = _own_listing(request, pk)
    form = ListingForm(
        request.POST if request.method == "POST" else None, instance=listing
    )
    if request.method == "POST" and form.is_valid():
        was_published = listing.is_published
        services.listing_update(listing=listing, form=form)
        if was_published and not listing.is_published:
            messages.success(
                request,
                _(
                    "Your changes are saved. The new text is checked before the "
                    "listing shows again, usually within a day."
                ),
            )
        else:
            messages.success(request, _("Your changes are saved."))
        return redirect("listings:mine")
    return render(
        request, "listings/listing_form.html", {"form": form, "listing": listing}
    )


@login_required
def listing_photos(request, pk):
    listing = _own_listing(request, pk)
    photos = list(listing.photos.order_by("position", "id"))
    posted = request.method == "POST"
    form = PhotoUploadForm(
        request.POST if posted else None,
        request.FILES if posted else None,
        existing=len(photos),
    )
    if request.method == "POST" and form.is_valid():
        added = 0
        try:
            for name, data in form.cleaned_data["photos"]:
                services.photo_add(listing=listing, data=data, name=name)
                added += 1
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        except services.StorageUnavailable:
            messages.error(
                request,
                _(
                    "Photo storage is not answering right now, so this photo was "
                    "not saved. Nothing else changed: try again in a few minutes."
                ),
            )
        if added:
            messages.success(
                request,
                _("%(n)s photo(s) added.") % {"n": shown(added)},
            )
        return redirect("listings:photos", pk=listing.pk)
    status = 400 if form.errors else 200
    return render(
        request,
        "listings/listingphoto_form.html",
        {
            "listing": listing,
            "photos": photos,
            "form": form,
            "max_photos": MAX_PHOTOS,
            "room": MAX_PHOTOS - len(photos),
        },
        status=status,
    )


@login_required
@require_POST
def photo_action(request, pk, photo_pk, action):
    listing = _own_listing(request, pk)
    photo = get_object_or_404(ListingPhoto, pk=photo_pk, listing=listing)
    if action == "up":
        services.photo_move(photo=photo, offset=-1)
    elif action == "down":
        services.photo_move(photo=photo, offset=1)
    elif action == "cover":
        services.photo_make_cover(photo=photo)
        messages.success(request, _("Cover photo changed."))
    elif action == "delete":
        services.photo_delete(photo=photo)
        messages.success(request, _("Photo deleted."))
    else:
        raise Http404
    return redirect("listings:photos", pk=listing.pk)


_OWNER_ACTIONS = {
    "submit": (
        services.listing_submit,
        None,
    ),
    "rented": (
        services.listing_mark_rented,
        gettext_lazy("Marked as rented. Congratulations!"),
    ),
    "relist": (services.listing_relist, None),
    "still-available": (
        services.listing_confirm_available,
        gettext_lazy("Thanks! The listing stays up for another 60 days."),
    ),
}


@login_required
@require_POST
def listing_action(request, pk, action):
    listing = _own_listing(request, pk)
    if action not in _OWNER_ACTIONS:
        raise Http404
    service, message = _OWNER_ACTIONS[action]
    try:
        service(listing=listing)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("listings:mine")
    if message is None:
        message = (
            _("Published: tenants can find it now.")
            if listing.is_published
            else _("Sent for review. We usually check listings within a day.")
        )
    messages.success(request, message)
    return redirect("listings:mine")


@login_required
def listing_delete(request, pk):
    listing = _own_listing(request, pk)
    if request.method == "POST":
        services.listing_delete(listing=listing)
        messages.success(request, _("The listing and its photos are deleted."))
        return redirect("listings:mine")
    return render(request, "listings/listing_confirm_delete.html", {"listing": listing})


# --- Tenants ----------------------------------------------------------------


@login_required
def shortlist(request):
    ids = list(
        Shortlist.objects.filter(user=request.user).values_list("listing_id", flat=True)
    )
    listings = {
        listing.pk: listing
        for listing in Listing.objects.published().filter(pk__in=ids).for_cards()
    }
    ordered = [listings[i] for i in ids if i in listings]
    return render(
        request,
        "listings/shortlist_list.html",
        {"listings": ordered, "shortlisted": set(ids)},
    )


@login_required
@require_POST
def shortlist_toggle(request, pk):
    listing = get_object_or_404(Listing.objects.published(), pk=pk)
    added = services.shortlist_toggle(user=request.user, listing=listing)
    messages.success(
        request,
        _("Added to your shortlist.") if added else _("Removed from your shortlist."),
    )
    return redirect_next(request, request.POST.get("next"), fallback=listing)


@login_required
def listing_report(request, pk):
    listing = get_object_or_404(
        Listing.objects.published().select_related("locality"), pk=pk
    )
    if listing.owner_id == request.user.pk:
        raise Http404
    form = ReportForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            services.listing_report(listing=listing, reporter=request.user, form=form)
        except PermissionDenied:
            raise Http404 from None
        messages.success(
            request,
            _("Thank you. Our team will look at this listing within a day."),
        )
        return redirect(listing)
    return render(
        request,
        "listings/listingreport_form.html",
        {"form": form, "listing": listing},
        status=400 if form.errors else 200,
    )
