"""
The rent index: median monthly rents asked, with the middle half of them, per
locality and property type (and bedrooms for flats), from the listings that
went on the site and their rent changes.

Method: every time a listing goes on the site, and every time its rent changes
while it is there, its rent counts once for that month (so a place relisted at
a new rent counts again). Listings from before rent changes were recorded count
once, at their current rent, in the month they were published. A figure is the
median of those rents; the range is the 25th to 75th percentile (linear
interpolation, as PostgreSQL's percentile_cont); no figure is shown where fewer
than ten rents stand behind it.
"""

import csv
import io
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from django.core.cache import cache
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.db.models.functions import TruncMonth
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from listings.formatting import npr
from listings.models import Listing, ListingRent
from nobroker.numbers import shown
from rentindex.models import MIN_LISTINGS, RentFigure

MONTHS = 12
VERSION_KEY = "rentindex:version"
DATA_TIMEOUT = 26 * 3600
LOCAL_SECONDS = 300

# Grouped by bedrooms only for flats: elsewhere the number says less about rent.
BY_BEDROOMS = {Listing.PropertyType.FLAT}


def first_month(today: date) -> date:
    """The first day of the month eleven months before today's month."""
    months = today.year * 12 + today.month - 1 - (MONTHS - 1)
    return date(months // 12, months % 12 + 1, 1)


def _observations(start: date):
    """(locality, type, bedrooms, rent, month) of every rent since `start`."""
    start_at = timezone.make_aware(
        timezone.datetime.combine(start, timezone.datetime.min.time())
    )
    changes = (
        ListingRent.objects.filter(at__gte=start_at)
        .annotate(month=TruncMonth("at"))
        .values_list(
            "listing__locality_id",
            "listing__property_type",
            "listing__bedrooms",
            "rent",
            "month",
        )
    )
    yield from changes.iterator(chunk_size=20_000)
    unrecorded = (
        Listing.objects.filter(published_at__gte=start_at)
        .exclude(Exists(ListingRent.objects.filter(listing=OuterRef("pk"))))
        .annotate(month=TruncMonth("published_at"))
        .values_list("locality_id", "property_type", "bedrooms", "rent", "month")
    )
    yield from unrecorded.iterator(chunk_size=20_000)


def _month(value) -> date:
    return value.date() if hasattr(value, "date") else value


@dataclass
class BuildResult:
    figures: int
    published: int
    rents: int
    seconds: float


def _figure(values: list[int], **fields) -> RentFigure:
    figure = RentFigure(listings=len(values), **fields)
    if len(values) >= MIN_LISTINGS:
        q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
        figure.lower_quartile = round(q1)
        figure.median = round(median)
        figure.upper_quartile = round(q3)
    return figure


@transaction.atomic
def rent_index_build(*, today: date | None = None) -> BuildResult:
    """Rebuilds every figure from the listings and their rents (nightly)."""
    started = time.perf_counter()
    today = today or timezone.localdate()
    start = first_month(today)
    groups: dict[tuple, list[int]] = defaultdict(list)
    rents = 0
    for locality_id, kind, bedrooms, rent, month in _observations(start):
        rents += 1
        month = _month(month)
        for place in (locality_id, None):  # the locality, and the whole valley
            keys = [(place, kind, None)]
            if kind in BY_BEDROOMS:
                keys.append((place, kind, bedrooms))
            for key in keys:
                groups[(*key, None)].append(rent)
                groups[(*key, month)].append(rent)
    built_at = timezone.now()
    figures = [
        _figure(
            values,
            locality_id=locality_id,
            property_type=kind,
            bedrooms=bedrooms,
            month=month,
            built_at=built_at,
        )
        for (locality_id, kind, bedrooms, month), values in groups.items()
    ]
    RentFigure.objects.all().delete()
    RentFigure.objects.bulk_create(figures, batch_size=2000)
    transaction.on_commit(lambda: _publish(built_at.isoformat()))
    return BuildResult(
        figures=len(figures),
        published=sum(1 for f in figures if f.is_published),
        rents=rents,
        seconds=time.perf_counter() - started,
    )


def _publish(version: str) -> None:
    """Points readers at the new figures, with the headline figures and the
    CSV already in the cache: no reader builds them after a nightly run."""
    forget_local()
    cache.set_many(
        {
            f"rentindex:headline:{version}": _load(),
            f"rentindex:csv:{version}": _csv(),
        },
        DATA_TIMEOUT,
    )
    cache.set(VERSION_KEY, version, None)


# --- Reading ------------------------------------------------------------------

_local: dict = {"until": 0.0, "version": None, "data": None}


def _version() -> str:
    return cache.get(VERSION_KEY) or "none"


def index_data() -> dict:
    """
    The twelve-month figures of every group, for the page and the cards: from
    this process's memory (five minutes), else the cache, else the database.
    The monthly figures are read per group (`trend`), the CSV whole (`csv_text`).
    """
    now = time.monotonic()
    if _local["data"] is not None and now < _local["until"]:
        return _local["data"]
    version = _version()
    data = cache.get(f"rentindex:headline:{version}")
    if data is None:
        data = _load()
        cache.set(f"rentindex:headline:{version}", data, DATA_TIMEOUT)
    _local.update(until=now + LOCAL_SECONDS, version=version, data=data)
    return data


def forget_local() -> None:
    _local.update(until=0.0, version=None, data=None)


FIGURE_COLUMNS = (
    "locality_id",
    "property_type",
    "bedrooms",
    "month",
    "listings",
    "median",
    "lower_quartile",
    "upper_quartile",
    "built_at",
)


def _load() -> dict:
    headline: dict[tuple, dict] = {}
    built_at = None
    for row in RentFigure.objects.headline().values(*FIGURE_COLUMNS):
        built_at = row["built_at"]
        headline[(row["locality_id"], row["property_type"], row["bedrooms"])] = row
    return {"headline": headline, "built_at": built_at}


def trend(
    *, locality_id: int | None, property_type: str, bedrooms: int | None
) -> list[dict]:
    """One group's monthly figures, oldest first (a dozen rows, by index)."""
    return list(
        RentFigure.objects.monthly()
        .filter(locality_id=locality_id, property_type=property_type, bedrooms=bedrooms)
        .order_by("month")
        .values(*FIGURE_COLUMNS)
    )


def csv_text() -> str:
    """Every figure as CSV, the same for everyone: built once per build."""
    key = f"rentindex:csv:{_version()}"
    text = cache.get(key)
    if text is None:
        text = _csv()
        cache.set(key, text, DATA_TIMEOUT)
    return text


def _csv() -> str:
    from listings.search import locality_data

    names = {row["id"]: row["name"] for row in locality_data()["rows"]}
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "locality",
            "property_type",
            "bedrooms",
            "period",
            "listings",
            "median_rent",
            "lower_quartile",
            "upper_quartile",
        ]
    )
    rows = list(RentFigure.objects.values(*FIGURE_COLUMNS))
    rows.sort(
        key=lambda r: (
            names.get(r["locality_id"], ""),
            r["property_type"],
            r["bedrooms"] or 0,
            r["month"].isoformat() if r["month"] else "",
        )
    )
    for figure in rows:
        published = figure["median"] is not None
        writer.writerow(
            [
                names.get(figure["locality_id"], "Kathmandu valley"),
                figure["property_type"],
                figure["bedrooms"] if figure["bedrooms"] is not None else "all",
                figure["month"].strftime("%Y-%m")
                if figure["month"]
                else "last 12 months",
                figure["listings"],
                figure["median"] if published else "",
                figure["lower_quartile"] if published else "",
                figure["upper_quartile"] if published else "",
            ]
        )
    return out.getvalue()


def headline_for(
    *, locality_id: int | None, property_type: str, bedrooms: int | None = None
) -> dict | None:
    """The published twelve-month figure for the group, or None."""
    if property_type not in BY_BEDROOMS:
        bedrooms = None
    figure = index_data()["headline"].get((locality_id, property_type, bedrooms))
    if figure is None or figure["median"] is None:
        return None
    return figure


def listing_figure(listing) -> dict | None:
    """The figure a listing's rent is compared with: its locality, type and
    (for flats) bedrooms, else its locality and type."""
    return headline_for(
        locality_id=listing.locality_id,
        property_type=listing.property_type,
        bedrooms=listing.bedrooms,
    ) or headline_for(
        locality_id=listing.locality_id, property_type=listing.property_type
    )


def rent_position(listing) -> str | None:
    """ "typical", "above" or "below" the locality's middle half; None without a
    published figure."""
    figure = listing_figure(listing)
    if figure is None:
        return None
    if listing.rent > figure["upper_quartile"]:
        return "above"
    if listing.rent < figure["lower_quartile"]:
        return "below"
    return "typical"


def _group_name(property_type: str, bedrooms: int | None) -> str:
    plurals = {
        Listing.PropertyType.ROOM: _("rooms"),
        Listing.PropertyType.FLAT: _("flats"),
        Listing.PropertyType.APARTMENT: _("apartments"),
        Listing.PropertyType.HOUSE: _("houses"),
        Listing.PropertyType.SHOP: _("shops and offices"),
    }
    name = plurals.get(property_type, property_type)
    if bedrooms is None:
        return name
    return ngettext("%(n)s-bedroom %(kind)s", "%(n)s-bedroom %(kind)s", bedrooms) % {
        "n": shown(bedrooms),
        "kind": name,
    }


def rent_sentence(listing) -> str:
    """ "Rs. 4,000 above the median for 2-bedroom flats in Baneshwor", or ''."""
    figure = listing_figure(listing)
    if figure is None:
        return ""
    values = {
        "amount": npr(abs(listing.rent - figure["median"])),
        "group": _group_name(listing.property_type, figure["bedrooms"]),
        "place": listing.locality.name,
        "median": npr(figure["median"]),
    }
    if listing.rent > figure["median"]:
        return _("%(amount)s above the median for %(group)s in %(place)s") % values
    if listing.rent < figure["median"]:
        return _("%(amount)s below the median for %(group)s in %(place)s") % values
    return _("At the median for %(group)s in %(place)s (%(median)s)") % values


POSITION_TEXT = {
    "typical": gettext_lazy("Typical rent for this locality"),
    "above": gettext_lazy("Above the locality's typical rent"),
    "below": gettext_lazy("Below the locality's typical rent"),
}


def rent_hint(listing) -> str:
    """The card's line on the listing's rent against its locality, or ''."""
    position = rent_position(listing)
    return str(POSITION_TEXT[position]) if position else ""
