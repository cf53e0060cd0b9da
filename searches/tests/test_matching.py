"""The alert run's in-memory matching agrees with the search page's query."""

import datetime as dt
import random
from urllib.parse import urlencode

import pytest
from django.http import QueryDict
from django.utils import timezone

from listings.models import Listing
from listings.search import build_search
from listings.tests.factories import ListingFactory, locality
from nobroker.i18n import normalise_value
from searches.matching import ROW_FIELDS, NewListings, criteria_for, matches

pytestmark = pytest.mark.django_db

SLUGS = ["thamel", "patan", "old-baneshwor", "new-baneshwor", "jhamsikhel"]


def _random_query(rng) -> str:
    params = []
    for slug in rng.sample(SLUGS, rng.randint(0, 2)):
        params.append(("locality", slug))
    for key, values in {
        "type": ["room", "flat", "house"],
        "rent_min": ["10000", "१५,०००"],
        "rent_max": ["30000", "Rs. 50,000"],
        "bedrooms": ["1", "2", "3"],
        "furnishing": ["unfurnished", "semi", "full"],
        "parking": ["bike", "car"],
        "water_min": ["6", "12"],
        "tenants": ["family", "students"],
        "pets": ["on"],
        "available_by": [(timezone.localdate() + dt.timedelta(days=20)).isoformat()],
        "q": ["baneswor flat", "kotha", "ललितपुर"],
    }.items():
        if rng.random() < 0.3:
            params.append((key, rng.choice(values)))
    return urlencode(params)


def test_random_searches_match_the_same_listings_both_ways():
    rng = random.Random(2083)
    for _ in range(60):
        ListingFactory(
            locality=locality(rng.choice(SLUGS)),
            property_type=rng.choice(["room", "flat", "house"]),
            rent=rng.randrange(5000, 80000, 2500),
            bedrooms=rng.randint(1, 4),
            furnishing=rng.choice(["unfurnished", "semi", "full"]),
            bike_parking=rng.randint(0, 2),
            car_parking=rng.randint(0, 1),
            water_hours=rng.randint(0, 24),
            preferred_tenants=rng.choice(["anyone", "family", "students"]),
            pets_allowed=rng.random() < 0.5,
            available_from=timezone.localdate() + dt.timedelta(days=rng.randint(0, 40)),
        )
    rows = list(Listing.objects.published().values(*ROW_FIELDS))
    for _ in range(150):
        query = _random_query(rng)
        # The middleware has already read Nepali digits on a real request.
        query = urlencode(
            [(k, normalise_value(v)) for k, vs in QueryDict(query).lists() for v in vs]
        )
        criteria = criteria_for(query)
        if criteria["words"]:
            continue
        by_sql = set(
            build_search(QueryDict(query)).queryset().values_list("pk", flat=True)
        )
        in_memory = {r["id"] for r in rows if matches(criteria, r)}
        assert in_memory == by_sql, query


def test_grouped_matching_finds_what_the_search_page_finds_since_each_check():
    """Many saved searches share filters but not check times: each distinct
    filter set is matched once (NewListings), and each search still gets
    exactly the page's listings published after its own check, words too."""
    rng = random.Random(4111)
    now = timezone.now()
    for _ in range(60):
        ListingFactory(
            locality=locality(rng.choice(SLUGS)),
            property_type=rng.choice(["room", "flat", "house"]),
            rent=rng.randrange(5000, 80000, 2500),
            bedrooms=rng.randint(1, 4),
            water_hours=rng.randint(0, 24),
            pets_allowed=rng.random() < 0.5,
            description=" ".join(rng.sample(["quiet", "balcony", "garden", "पानी"], 2)),
            published_at=now - dt.timedelta(hours=rng.randint(1, 48)),
        )
    window = Listing.objects.published()
    rows = list(window.order_by("-published_at", "-id").values(*ROW_FIELDS))
    new = NewListings(rows, window=window)
    queries = []
    for _ in range(25):
        query = _random_query(rng)
        if rng.random() < 0.5:
            query += "&" + urlencode(
                {"q": rng.choice(["quiet", "balcony garden", "पानी"])}
            )
        queries.append(
            urlencode(
                [
                    (k, normalise_value(v))
                    for k, vs in QueryDict(query).lists()
                    for v in vs
                ]
            )
        )
    found_with_words = 0
    for _ in range(120):
        query = rng.choice(queries)
        since = now - dt.timedelta(hours=rng.randint(0, 50), minutes=rng.randint(0, 59))
        by_sql = list(
            build_search(QueryDict(query))
            .queryset()
            .filter(published_at__gt=since)
            .order_by("-published_at", "-id")
            .values_list("pk", flat=True)
        )
        criteria = criteria_for(query)
        assert new.matching(criteria, since) == by_sql, (query, since)
        found_with_words += bool(by_sql and criteria["words"])
    assert found_with_words > 10
