"""
The listings' own numbers: what is counted (views with unique viewers, search
appearances, shortlists, contacts, visit requests, visits done, rented), how a
flush lands it in the daily rows, the nightly locality rollup, and what an
owner's performance page reads.

Counting goes through `nobroker.counting`; nothing here runs on a page's path
except `count_*`, which only hands the event to the counting store.
"""

import itertools
import statistics
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import connection, transaction
from django.db.models import Count, FilteredRelation, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from listings.models import Listing, ListingDay, LocalityDay, SimilarFigure
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
    counting.rows_changed()
    return len(rows)


# The windows an owner's performance page offers, each compared with listings
# like it over the same number of days.
SIMILAR_DAYS = (30, 90)


@transaction.atomic
def similar_figures_build(*, last: date) -> int:
    """
    Rebuilds the figures of every group of published listings (locality, type,
    bedrooms) over the 30 and 90 days ending `last` (nightly: yesterday, the
    last complete day). Returns the rows written.
    """
    longest = max(SIMILAR_DAYS)
    firsts = {days: last - timedelta(days=days - 1) for days in SIMILAR_DAYS}
    sums = {
        f"{field}_{days}": Coalesce(
            Sum(
                f"window__{field}",
                filter=None if days == longest else Q(window__day__gte=firsts[days]),
            ),
            0,
        )
        for days in SIMILAR_DAYS
        for field in COUNT_FIELDS
    }
    group = ("locality_id", "property_type", "bedrooms")
    rows = (
        Listing.objects.published()
        .annotate(
            window=FilteredRelation(
                "days", condition=Q(days__day__range=(firsts[longest], last))
            )
        )
        .values("pk", *group)
        .annotate(**sums)
        .order_by(*group)
        .values_list(*group, *sums)
    )
    built_at = timezone.now()
    figures = []
    for key, members in itertools.groupby(
        rows.iterator(chunk_size=20_000), key=lambda row: row[:3]
    ):
        columns = list(zip(*(row[3:] for row in members), strict=True))
        n = len(columns[0])
        lo, hi = _middle_ranks(n)
        for days in SIMILAR_DAYS:
            middle = {}
            for field in COUNT_FIELDS:
                values = sorted(columns[list(sums).index(f"{field}_{days}")])
                middle[field] = values[lo : hi + 1]
            figures.append(
                SimilarFigure(
                    locality_id=key[0],
                    property_type=key[1],
                    bedrooms=key[2],
                    days=days,
                    first=firsts[days],
                    last=last,
                    listings=n,
                    middle=middle,
                    built_at=built_at,
                )
            )
    SimilarFigure.objects.all().delete()
    SimilarFigure.objects.bulk_create(figures, batch_size=1000)
    return len(figures)


def _middle_ranks(n: int) -> tuple[int, int]:
    """The ranks (from 0, sorted) whose values give the median of n values and
    of the n - 1 left when any one of them is taken out."""
    a = (n - 2) // 2
    return max(0, a), min(n - 1, a + 2)


def median_of(n: int, middle: list[int], *, without: int | None = None):
    """
    The median of n values from their middle ones (as stored by
    similar_figures_build), or of the n - 1 left once one value equal to
    `without` is taken out; None when no value is left. Matches
    statistics.median of the values themselves.
    """
    lo, _hi = _middle_ranks(n)

    def at(rank: int):
        index = rank - lo
        return middle[index] if 0 <= index < len(middle) else None

    if without is not None:
        # Taking out one value shifts the ranks at or above its own down by one.
        a = (n - 2) // 2
        if n < 2:
            return None
        below, here, above = at(a), at(a + 1), at(a + 2)
        if without <= below:
            kept = [here, above]
        elif above is not None and without >= above:
            kept = [below, here]
        else:
            kept = [below, above]
        n -= 1
        picked = [kept[(n - 1) // 2 - a], kept[n // 2 - a]]
    elif n:
        picked = [at((n - 1) // 2), at(n // 2)]
    else:
        return None
    if n % 2:
        return picked[0]
    return (picked[0] + picked[1]) / 2


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
    # The days the similar listings' medians cover: the nightly figures' window
    # (to the last complete day), or first..last where none was built yet.
    similar_first: date | None = None
    similar_last: date | None = None
    similar_built_at: datetime | None = None


def _window(days: int, today: date | None = None) -> tuple[date, date]:
    last = today or timezone.localdate()
    return last - timedelta(days=days - 1), last


def _totals(rows: dict, first: date, last: date) -> dict[str, int]:
    return {
        f: sum(row[f] for day, row in rows.items() if first <= day <= last)
        for f in COUNT_FIELDS
    }


def listing_performance(*, listing: Listing, days: int) -> Performance:
    """The listing's daily numbers over the last `days` days, its totals, and
    the median totals of listings like it (same locality, type and bedrooms,
    the listing itself left out): from the nightly figures where they were
    built, else counted now."""
    first, last = _window(days)
    figure = SimilarFigure.objects.filter(
        locality_id=listing.locality_id,
        property_type=listing.property_type,
        bedrooms=listing.bedrooms,
        days=days,
    ).first()
    since = min(first, figure.first) if figure else first
    rows = {
        row["day"]: row
        for row in ListingDay.objects.filter(
            listing=listing, day__range=(since, last)
        ).values("day", *COUNT_FIELDS)
    }
    series = []
    for offset in range((last - first).days + 1):
        day = first + timedelta(days=offset)
        row = rows.get(day, {})
        series.append({"day": day, **{f: row.get(f, 0) for f in COUNT_FIELDS}})
    totals = {f: sum(point[f] for point in series) for f in COUNT_FIELDS}
    if figure is not None:
        similar, similar_count = _similar_from_figure(listing, figure, rows)
    else:
        similar, similar_count = _similar_counted(listing, first, last)
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
        similar_first=figure.first if figure else first,
        similar_last=figure.last if figure else last,
        similar_built_at=figure.built_at if figure else None,
    )


def _similar_from_figure(listing, figure: SimilarFigure, rows: dict):
    """The group's medians less this listing, if it was one of the group when
    the figure was built (published by then); its own totals over the figure's
    days, all complete, are what it counted for then."""
    member = (
        listing.status == Listing.Status.PUBLISHED
        and listing.published_at is not None
        and listing.published_at <= figure.built_at
    )
    own = _totals(rows, figure.first, figure.last)
    count = figure.listings - 1 if member else figure.listings
    similar = {
        f: median_of(
            figure.listings,
            figure.middle.get(f, []),
            without=own[f] if member else None,
        )
        if count
        else None
        for f in COUNT_FIELDS
    }
    return similar, count


def _similar_counted(listing, first: date, last: date):
    """The medians counted now from the daily rows (no figure built yet)."""
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
    return similar, similar_count


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
