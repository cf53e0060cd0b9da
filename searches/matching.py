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

import datetime as dt

from django.http import QueryDict

from listings.models import SEARCH_FILTER_COLUMNS
from listings.search import build_search

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
