from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render

from listings.models import Listing, Locality


def search(request):
    listings = Listing.objects.published().select_related("locality")
    locality_slugs = request.GET.getlist("locality")
    if locality_slugs:
        listings = listings.filter(locality__slug__in=locality_slugs)
    page = Paginator(listings, 20).get_page(request.GET.get("page"))
    return render(
        request,
        "listings/listing_list.html",
        {
            "page_obj": page,
            "localities": Locality.objects.for_picker(),
            "selected": locality_slugs,
        },
    )


def listing_detail(request, pk, slug=None):
    listing = get_object_or_404(
        Listing.objects.select_related("locality", "owner"), pk=pk
    )
    if not listing.is_visible_to(request.user):
        return render(request, "404.html", status=404)
    if slug != listing.slug:
        return redirect(listing, permanent=True)
    return render(request, "listings/listing_detail.html", {"listing": listing})
