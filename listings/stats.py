"""
The listings' own numbers: what is counted (views with unique viewers, search
appearances, shortlists, contacts, visit requests, visits done, rented), how a
flush lands it in the daily rows, the nightly locality rollup, and what an
owner's performance page reads.

Counting goes through `nobroker.counting`; nothing here runs on a page's path
except `count_*`, which only hands the event to the counting store.
"""

import statistics
from dataclasses import dataclass
from datetime import date, timedelta

from django.db import connection, transaction
from django.db.models import Count, Sum
from django.utils import timezone

from listings.models import Listing, ListingDay, LocalityDay
from nobroker import counting

# metric -> the ListingDay column it adds to
FIELDS = {
    "listing.view": "views",
    "listing.search": "search_appearances",
    "listing.shortlist": "shortlists",
    "listing.contact": "contacts",
    "listing.visit_request": "visit_requests",
    "listing.visit_done": "visits_done",
    "listing.rented": "rented",
}
COUNT_FIELDS = [
    "views",
    "unique_viewers",
    "search_appearances",
    "shortlists",
    "contacts",
    "visit_requests",
    "visits_done",
    "rented",
]
CHUNK = 500


# --- Counting (the page's path) ---------------------------------------------


def count_view(request, listing: Listing) -> None:
    """A person (not the owner, not a bot) looked at the listing's page."""
    user = request.user
    if user.is_authenticated and user.pk == listing.owner_id:
        return
    counting.count_request(request, "listing.view", listing.pk)


def count_search_appearances(request, listings) -> None:
    """The listings were shown on a page of search results."""
    if listings and counting.is_countable(request):
        counting.count("listing.search", *(listing.pk for listing in listings))


def count_event(event: str, listing_id: int) -> None:
    """A shortlist, contact, visit request, visit done or rental, once committed."""
    counting.count_on_commit(f"listing.{event}", listing_id)


# --- Flushing ---------------------------------------------------------------


def _rows(counts: dict[str, int]) -> list[tuple[int, int]]:
    return sorted((int(k), n) for k, n in counts.items() if k.isdigit() and n)


def _upsert(day: date, rows: list[tuple[int, int]], field: str, combine: str) -> None:
    """Adds (or raises to) `field` of each listing's row for the day; listings
    deleted since they were counted are left out."""
    table = ListingDay._meta.db_table
    listings = Listing._meta.db_table
    columns = ", ".join(COUNT_FIELDS)
    selected = ", ".join("v.n" if f == field else "0" for f in COUNT_FIELDS)
    with connection.cursor() as cursor:
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start : start + CHUNK]
            values = ", ".join(["(%s, %s)"] * len(chunk))
            cursor.execute(
                # Table and column names come from the models; values are
                # parameters.
                f"WITH v(listing_id, n) AS (VALUES {values}) "  # noqa: S608
                f"INSERT INTO {table} (listing_id, day, {columns}) "
                f"SELECT l.id, %s, {selected} FROM v JOIN {listings} l "
                "ON l.id = v.listing_id WHERE true "
                f"ON CONFLICT (listing_id, day) DO UPDATE SET {field} = "  # noqa: S608
                + combine.format(old=f"{table}.{field}", new=f"excluded.{field}"),
                [x for row in chunk for x in row] + [day],
            )


def _greatest() -> str:
    return (
        "GREATEST({old}, {new})"
        if connection.vendor == "postgresql"
        else ("MAX({old}, {new})")
    )


def _apply(field: str):
    def apply(day: date, counts: dict[str, int]) -> None:
        rows = _rows(counts)
        _upsert(day, rows, field, "{old} + {new}")
        if field == "views":
            _add_to_view_counts(rows)

    return apply


def _add_to_view_counts(rows: list[tuple[int, int]]) -> None:
    """The all-time counter on the listing, once per flush, in id order (no
    deadlock between two flushers)."""
    table = Listing._meta.db_table
    with connection.cursor() as cursor:
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start : start + CHUNK]
            values = ", ".join(["(%s, %s)"] * len(chunk))
            cursor.execute(
                f"WITH v(id, n) AS (VALUES {values}) UPDATE {table} "  # noqa: S608
                f"SET view_count = view_count + v.n FROM v WHERE {table}.id = v.id",
                [x for row in chunk for x in row],
            )


def _apply_unique_viewers(day: date, counts: dict[str, int]) -> None:
    _upsert(day, _rows(counts), "unique_viewers", _greatest())


def register_metrics() -> None:
    for metric, field in FIELDS.items():
        counting.register(
            metric,
            apply=_apply(field),
            apply_unique=_apply_unique_viewers if field == "views" else None,
        )


# --- Nightly rollup -----------------------------------------------------------


@transaction.atomic
def locality_days_rollup(*, first: date, last: date) -> int:
    """
    Rebuilds the locality-and-type rows of the days first..last from the
    listing rows (a re-run gives the same rows). Returns the rows written.
    """
    LocalityDay.objects.filter(day__range=(first, last)).delete()
    sums = (
        ListingDay.objects.filter(day__range=(first, last))
        .values("listing__locality_id", "listing__property_type", "day")
        .annotate(listings=Count("listing_id"), **{f: Sum(f) for f in COUNT_FIELDS})
        .order_by()
    )
    rows = [
        LocalityDay(
            locality_id=row["listing__locality_id"],
            property_type=row["listing__property_type"],
            day=row["day"],
            listings=row["listings"],
            **{f: row[f] for f in COUNT_FIELDS},
        )
        for row in sums.iterator(chunk_size=2000)
    ]
    LocalityDay.objects.bulk_create(rows, batch_size=2000)
    return len(rows)


# --- What an owner sees -----------------------------------------------------

FUNNEL = [
    ("search_appearances", "search_appearances"),
    ("views", "unique_viewers"),
    ("shortlists", "shortlists"),
    ("contacts", "contacts"),
    ("visits", "visits_done"),
    ("rented", "rented"),
]


@dataclass
class Performance:
    listing: Listing
    days: int
    first: date
    last: date
    series: list[dict]  # one per day: {"day", "views", "contacts", "visit_requests"}
    totals: dict[str, int]
    similar: dict[str, float | None]  # the median of similar listings' totals
    similar_count: int
    days_on_site: int | None


def _window(days: int, today: date | None = None) -> tuple[date, date]:
    last = today or timezone.localdate()
    return last - timedelta(days=days - 1), last


def listing_performance(*, listing: Listing, days: int) -> Performance:
    """The listing's daily numbers over the last `days` days, its totals, and
    the median totals of listings like it (same locality, type and bedrooms)."""
    first, last = _window(days)
    rows = {
        row["day"]: row
        for row in ListingDay.objects.filter(
            listing=listing, day__range=(first, last)
        ).values("day", *COUNT_FIELDS)
    }
    series = []
    for offset in range((last - first).days + 1):
        day = first + timedelta(days=offset)
        row = rows.get(day, {})
        series.append({"day": day, **{f: row.get(f, 0) for f in COUNT_FIELDS}})
    totals = {f: sum(point[f] for point in series) for f in COUNT_FIELDS}
    similar_listings = (
        Listing.objects.published()
        .filter(
            locality_id=listing.locality_id,
            property_type=listing.property_type,
            bedrooms=listing.bedrooms,
        )
        .exclude(pk=listing.pk)
    )
    similar_count = similar_listings.count()
    similar_totals = list(
        ListingDay.objects.filter(
            day__range=(first, last), listing__in=similar_listings
        )
        .values("listing_id")
        .annotate(**{f: Sum(f) for f in COUNT_FIELDS})
        .order_by()
        .values_list(*COUNT_FIELDS)
    )
    # Similar listings with no activity in the window count as zeros.
    idle = [0] * (similar_count - len(similar_totals))
    similar = {
        f: (
            statistics.median([row[i] for row in similar_totals] + idle)
            if similar_count
            else None
        )
        for i, f in enumerate(COUNT_FIELDS)
    }
    days_on_site = None
    if listing.published_at:
        days_on_site = (timezone.now() - listing.published_at).days
    return Performance(
        listing=listing,
        days=days,
        first=first,
        last=last,
        series=series,
        totals=totals,
        similar=similar,
        similar_count=similar_count,
        days_on_site=days_on_site,
    )


def funnel(totals: dict[str, int]) -> list[dict]:
    """Each step of search appearance → view → shortlist → contact → visit →
    rented with its count and its rate from the step before (None from zero)."""
    steps = []
    previous = None
    for key, field in FUNNEL:
        value = totals.get(field, 0)
        rate = None
        if previous is not None and previous > 0:
            rate = value / previous
        steps.append({"key": key, "value": value, "rate": rate})
        previous = value
    return steps
