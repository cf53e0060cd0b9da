from django.http import HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.cache import cache_control

from listings.models import Listing
from listings.search import locality_data
from nobroker.bsdate import format_ad
from nobroker.charts import line_chart
from rentindex import services
from rentindex.models import MIN_LISTINGS


def _type_choice(request) -> str:
    value = request.GET.get("type", Listing.PropertyType.FLAT)
    return value if value in Listing.PropertyType.values else Listing.PropertyType.FLAT


def _bedrooms_choice(request, kind: str) -> int | None:
    if kind not in services.BY_BEDROOMS:
        return None
    value = request.GET.get("bedrooms", "")
    return int(value) if value.isdigit() and 0 < int(value) <= 20 else None


@cache_control(public=True, max_age=600)
def rent_index(request):
    data = services.index_data()
    localities = locality_data()
    kind = _type_choice(request)
    bedrooms = _bedrooms_choice(request, kind)
    place_slug = request.GET.get("locality", "")
    place_id = localities["by_slug"].get(place_slug)
    rows = []
    for locality in localities["rows"]:
        figure = data["headline"].get((locality["id"], kind, bedrooms))
        if figure:
            rows.append({"locality": locality, "figure": figure})
    valley = data["headline"].get((None, kind, bedrooms))
    trend_rows = services.trend(
        locality_id=place_id, property_type=kind, bedrooms=bedrooms
    )
    published = [row for row in trend_rows if row["median"] is not None]
    place_name = (
        localities["by_id"][place_id]["name"] if place_id else _("the whole valley")
    )
    trend = (
        line_chart(
            title=_("Median rent by month, %(place)s") % {"place": place_name},
            labels=[format_ad(row["month"], "M Y") for row in published],
            series=[
                (_("Median rent (Rs.)"), "series-1", [r["median"] for r in published])
            ],
        )
        if published
        else None
    )
    bedroom_options = sorted(
        {
            key[2]
            for key in data["headline"]
            if key[1] == kind and key[2] is not None and key[0] is None
        }
    )
    return render(
        request,
        "rentindex/rent_index.html",
        {
            "rows": rows,
            "valley": valley,
            "kind": kind,
            "kind_label": Listing.PropertyType(kind).label,
            "types": Listing.PropertyType.choices,
            "bedrooms": bedrooms,
            "bedroom_options": bedroom_options,
            "by_bedrooms": kind in services.BY_BEDROOMS,
            "localities": localities["rows"],
            "place_slug": place_slug if place_id else "",
            "place_name": place_name,
            "trend": trend,
            "trend_rows": trend_rows,
            "built_at": data["built_at"],
            "min_listings": MIN_LISTINGS,
        },
    )


@cache_control(public=True, max_age=600)
def rent_index_csv(request):
    response = HttpResponse(services.csv_text(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="rent-index.csv"'
    return response
