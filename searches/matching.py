"""
Which new listings a saved search matches, without a query per search.

An alert run reads the listings published since the oldest due check once,
with the columns the search form filters on, and matches each saved search
against them here; only a search with words goes back to PostgreSQL, for
those few candidates, so words match exactly as on the search page. The
filters are those of `listings.search.Search.queryset`, read from the
criteria stored with the saved search (parsed once, when it is saved); a
test runs random searches both ways and requires the same listings.
"""

import bisect
import datetime as dt
import json
from collections import defaultdict

from django.http import QueryDict

from listings.models import SEARCH_FILTER_COLUMNS
from listings.search import build_search, text_filter

ROW_FIELDS = ("id", "locality_id", "published_at", *SEARCH_FILTER_COLUMNS)


def criteria_for(query: str) -> dict:
    """The filters of a search page query, as JSON, exactly as the page reads them."""
    search = build_search(QueryDict(query))
    data = search.form.cleaned_data
    available_by = data.get("available_by")
    return {
        "localities": search.locality_ids,
        "types": search.types,
        "words": search.words,
        "rent_min": data.get("rent_min"),
        "rent_max": data.get("rent_max"),
        "bedrooms": data.get("bedrooms") or None,
        "furnishing": data.get("furnishing") or None,
        "parking": data.get("parking") or None,
        "water_min": data.get("water_min") or None,
        "tenants": data.get("tenants") or None,
        "pets": bool(data.get("pets")),
        "available_by": available_by.isoformat() if available_by else None,
    }


def matches(criteria: dict, row: dict) -> bool:
    """Whether a listing row (ROW_FIELDS) passes every filter but the words."""
    c = criteria
    if c["localities"] and row["locality_id"] not in c["localities"]:
        return False
    if c["types"] and row["property_type"] not in c["types"]:
        return False
    if c["rent_min"] is not None and row["rent"] < c["rent_min"]:
        return False
    if c["rent_max"] is not None and row["rent"] > c["rent_max"]:
        return False
    if c["bedrooms"] and row["bedrooms"] < c["bedrooms"]:
        return False
    if c["furnishing"] and row["furnishing"] != c["furnishing"]:
        return False
    if c["parking"] == "bike" and row["bike_parking"] < 1:
        return False
    if c["parking"] == "car" and row["car_parking"] < 1:
        return False
    if c["water_min"] and row["water_hours"] < c["water_min"]:
        return False
    if c["tenants"] and row["preferred_tenants"] not in (c["tenants"], "anyone"):
        return False
    if c["pets"] and not row["pets_allowed"]:
        return False
    return not (
        c["available_by"]
        and row["available_from"] > dt.date.fromisoformat(c["available_by"])
    )


def _micros(moment: dt.datetime) -> int:
    # Whole microseconds: a float timestamp would round some of them.
    return (moment - dt.datetime(2000, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(
        microseconds=1
    )


def filters_key(criteria: dict) -> str:
    """The same text for criteria that match the same listings: the order of
    localities and types does not matter (the words keep theirs)."""
    return json.dumps(
        {
            **criteria,
            "localities": sorted(criteria["localities"]),
            "types": sorted(criteria["types"]),
        },
        sort_keys=True,
    )


class NewListings:
    """
    The listings published in an alert run's window (rows of ROW_FIELDS,
    newest first), matched once per distinct set of filters: people save the
    same few thousand searches, so each is matched against the new listings
    once, and each saved search takes those published after its own check.
    Words match by the database's text search, one query per distinct set of
    words over the whole window (`window`: the queryset the rows were read by).
    """

    def __init__(self, rows: list[dict], *, window):
        self.rows = rows
        self.window = window
        self.by_locality = defaultdict(list)
        for row in rows:
            self.by_locality[row["locality_id"]].append(row)
        self._matched: dict[str, tuple[list[int], list[int]]] = {}
        self._having: dict[tuple, set[int]] = {}

    def _with_words(self, words: tuple) -> set[int]:
        if words not in self._having:
            self._having[words] = set(
                text_filter(self.window, list(words)).values_list("pk", flat=True)
            )
        return self._having[words]

    def _match(self, criteria: dict) -> tuple[list[int], list[int]]:
        pools = (
            [self.by_locality.get(loc, ()) for loc in criteria["localities"]]
            if criteria["localities"]
            else [self.rows]
        )
        found = [r for pool in pools for r in pool if matches(criteria, r)]
        if len(pools) > 1:
            found.sort(key=lambda r: (r["published_at"], r["id"]), reverse=True)
        if found and criteria["words"]:
            having = self._with_words(tuple(criteria["words"]))
            found = [r for r in found if r["id"] in having]
        # Ids newest first, and minus their publish times (ascending) to cut
        # at a check time by bisection.
        return [r["id"] for r in found], [-_micros(r["published_at"]) for r in found]

    def matching(
        self, criteria: dict, since: dt.datetime, *, first: int | None = None
    ) -> list[int]:
        """Ids of the listings published after `since` that match, newest first
        (only the `first` few, if given)."""
        key = filters_key(criteria)
        if key not in self._matched:
            self._matched[key] = self._match(criteria)
        ids, times = self._matched[key]
        count = bisect.bisect_left(times, -_micros(since))
        return ids[: count if first is None else min(count, first)]
