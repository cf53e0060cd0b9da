"""Listing numbers: counted off the page's path, flushed into the daily rows."""

import datetime as dt
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from listings import stats
from listings.models import Listing, ListingDay, LocalityDay, SimilarFigure
from listings.tests.factories import ListingFactory, locality
from nobroker import counting

BROWSER = {
    "HTTP_USER_AGENT": "Mozilla/5.0 (Linux; Android 14; SM-A155F) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36"
}
OTHER_BROWSER = {
    "HTTP_USER_AGENT": "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) "
    "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "REMOTE_ADDR": "198.51.100.4",
}


@pytest.fixture(autouse=True)
def _fresh_counts(settings):
    """Each test starts with nothing counted (the in-process store or Redis)."""
    counting.reset_backend()
    store = counting.backend()
    if hasattr(store, "client"):
        for key in store.client.scan_iter(match=store.prefix + "*"):
            store.client.delete(key)
    yield
    counting.reset_backend()


def _today_row(listing) -> ListingDay:
    return ListingDay.objects.get(listing=listing, day=timezone.localdate())


def test_a_listing_page_view_writes_nothing_to_the_database(client, db):
    listing = ListingFactory()
    client.get(listing.get_absolute_url(), **BROWSER)  # fills the page cache
    with CaptureQueriesContext(connection) as queries:
        response = client.get(listing.get_absolute_url(), **BROWSER)
    assert response.status_code == 200
    writes = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].lstrip().upper().startswith(("UPDATE", "INSERT", "DELETE"))
    ]
    assert writes == []


def test_views_land_in_the_daily_row_and_the_listing_counter_after_the_flush(
    client, db
):
    listing = ListingFactory()
    for _ in range(3):
        client.get(listing.get_absolute_url(), **BROWSER)
    client.get(listing.get_absolute_url(), **OTHER_BROWSER)
    assert not ListingDay.objects.exists()
    counting.flush()
    counting.flush()  # twice: counted once
    row = _today_row(listing)
    assert (row.views, row.unique_viewers) == (4, 2)
    listing.refresh_from_db()
    assert listing.view_count == 4


def test_bots_and_prefetches_do_not_count_as_views(client, db):
    listing = ListingFactory()
    client.get(
        listing.get_absolute_url(),
        HTTP_USER_AGENT="Mozilla/5.0 (compatible; bingbot/2.0; "
        "+http://www.bing.com/bingbot.htm)",
    )
    client.get(listing.get_absolute_url(), HTTP_SEC_PURPOSE="prefetch", **BROWSER)
    counting.flush()
    assert not ListingDay.objects.exists()


def test_search_appearances_count_each_listing_on_the_page(client, db):
    shown = [ListingFactory() for _ in range(3)]
    client.get("/rent/", **BROWSER)
    client.get("/rent/", **BROWSER)
    counting.flush()
    assert {r.listing_id: r.search_appearances for r in ListingDay.objects.all()} == {
        listing.pk: 2 for listing in shown
    }


def test_shortlists_contacts_visits_and_rentals_are_counted_once_committed(
    tenant, db, django_capture_on_commit_callbacks
):
    from listings import services as listing_services
    from messaging import services as messaging_services

    listing = ListingFactory()
    with django_capture_on_commit_callbacks(execute=True):
        listing_services.shortlist_toggle(user=tenant, listing=listing)
        listing_services.shortlist_toggle(user=tenant, listing=listing)  # removed
        listing_services.shortlist_toggle(user=tenant, listing=listing)
        messaging_services.conversation_start(listing=listing, tenant=tenant)
        messaging_services.conversation_start(listing=listing, tenant=tenant)
        listing_services.listing_mark_rented(listing=listing)
    counting.flush()
    row = _today_row(listing)
    assert (row.shortlists, row.contacts, row.rented) == (2, 1, 1)


def test_counts_for_a_listing_deleted_before_the_flush_are_dropped(db):
    kept, gone = ListingFactory(), ListingFactory()
    counting.count("listing.view", kept.pk, gone.pk)
    gone.delete()
    counting.flush()
    assert list(ListingDay.objects.values_list("listing_id", "views")) == [(kept.pk, 1)]


def test_locality_rollup_sums_the_listing_rows_and_runs_twice_the_same(db):
    day = dt.date(2026, 11, 30)
    thamel = locality("thamel")
    a = ListingFactory(locality=thamel)
    b = ListingFactory(locality=thamel)
    c = ListingFactory(locality=thamel, property_type=Listing.PropertyType.ROOM)
    ListingDay.objects.create(listing=a, day=day, views=5, unique_viewers=3, contacts=1)
    ListingDay.objects.create(listing=b, day=day, views=7, unique_viewers=2)
    ListingDay.objects.create(listing=c, day=day, views=1)
    for _ in range(2):
        stats.locality_days_rollup(first=day, last=day)
    flats = LocalityDay.objects.get(locality=thamel, property_type="flat", day=day)
    rooms = LocalityDay.objects.get(locality=thamel, property_type="room", day=day)
    assert (flats.views, flats.unique_viewers, flats.contacts, flats.listings) == (
        12,
        5,
        1,
        2,
    )
    assert (rooms.views, rooms.listings) == (1, 1)
    assert LocalityDay.objects.count() == 2


def test_funnel_rates_step_from_the_step_before():
    steps = stats.funnel(
        {
            "search_appearances": 200,
            "views": 80,
            "unique_viewers": 50,
            "shortlists": 5,
            "contacts": 0,
            "visits_done": 0,
            "rented": 0,
        }
    )
    assert [(s["key"], s["value"], s["rate"]) for s in steps] == [
        ("search_appearances", 200, None),
        ("views", 50, 0.25),
        ("shortlists", 5, 0.1),
        ("contacts", 0, 0.0),
        ("visits", 0, None),
        ("rented", 0, None),
    ]


def test_performance_compares_with_the_median_of_similar_listings(db):
    today = timezone.localdate()
    mine = ListingFactory()
    others = [ListingFactory() for _ in range(3)]  # same locality, type, bedrooms
    ListingFactory(bedrooms=3)  # not similar
    ListingDay.objects.create(listing=mine, day=today, views=10)
    ListingDay.objects.create(listing=others[0], day=today, views=4)
    ListingDay.objects.create(
        listing=others[1], day=today - dt.timedelta(days=1), views=8
    )
    # others[2] had no views at all: it counts as zero.
    result = stats.listing_performance(listing=mine, days=30)
    assert result.totals["views"] == 10
    assert result.similar["views"] == 4
    assert result.similar_count == 3
    assert len(result.series) == 30
    assert result.series[-1]["views"] == 10


def test_owner_sees_the_chart_the_funnel_and_the_similar_medians(client, owner):
    today = timezone.localdate()
    mine = ListingFactory(owner=owner)
    ListingFactory()
    ListingDay.objects.create(
        listing=mine,
        day=today,
        views=7,
        contacts=2,
        visit_requests=1,
        search_appearances=70,
        unique_viewers=7,
    )
    client.force_login(owner)
    response = client.get(reverse("listings:performance", args=[mine.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "<svg" in html and "<polyline" in html
    assert "Viewers: <strong>7</strong>" in html
    assert "<td>7</td><td>2</td><td>1</td>" in html  # today's row of the table
    assert "10%" in html  # views / search appearances
    assert "Median of 1 similar listing" in html
    ninety = client.get(reverse("listings:performance", args=[mine.pk]), {"days": 90})
    assert ninety.context["result"].days == 90
    assert len(ninety.context["chart"].labels) == 90


def test_my_listings_links_each_listing_to_its_numbers(client, owner):
    listing = ListingFactory(owner=owner)
    client.force_login(owner)
    response = client.get(reverse("listings:mine"))
    assert (
        reverse("listings:performance", args=[listing.pk]).encode() in response.content
    )


def test_no_personal_data_in_any_counting_or_rollup_table(client, tenant, db):
    """A visit with a known address, user agent and email leaves none of them
    in any column of the tables counting and the rollups write, nor in Redis."""
    from django.apps import apps

    from business.services import business_rollup
    from rentindex.services import rent_index_build

    address, agent = "203.0.113.77", BROWSER["HTTP_USER_AGENT"]
    listing = ListingFactory()
    client.get(listing.get_absolute_url(), REMOTE_ADDR=address, HTTP_USER_AGENT=agent)
    client.force_login(tenant)
    client.get(listing.get_absolute_url(), REMOTE_ADDR=address, HTTP_USER_AGENT=agent)
    store = counting.backend()
    if hasattr(store, "client"):
        stored = " ".join(k.decode() for k in store.client.scan_iter(match="*"))
        assert address not in stored and "Android" not in stored
    counting.flush()
    today = timezone.localdate()
    stats.locality_days_rollup(first=today, last=today)
    stats.similar_figures_build(last=today)
    business_rollup(first=today, last=today)
    rent_index_build()
    assert _today_row(listing).unique_viewers == 2
    secrets = [address, "Android", "Mozilla", tenant.email, tenant.email.split("@")[0]]
    models = [
        apps.get_model(label)
        for label in (
            "listings.ListingDay",
            "listings.LocalityDay",
            "listings.SimilarFigure",
            "listings.ListingRent",
            "rentindex.RentFigure",
            "business.BusinessDay",
            "business.ActiveUsers",
            "nobroker.CountBatch",
        )
    ]
    seen = 0
    for model in models:
        for row in model.objects.values_list():
            seen += 1
            text = " ".join(str(value) for value in row)
            for secret in secrets:
                assert secret not in text, (model.__name__, secret)
        # No column of these tables can hold a person: no user, address or text.
        for field in model._meta.concrete_fields:
            assert field.get_internal_type() not in {
                "GenericIPAddressField",
                "EmailField",
                "TextField",
            }, (model.__name__, field.name)
            if field.is_relation:
                assert field.related_model._meta.label in {
                    "listings.Listing",
                    "listings.Locality",
                }, (model.__name__, field.name)
    assert seen > 0


def test_with_redis_down_the_page_answers_and_nothing_is_counted(client, settings, db):
    listing = ListingFactory()
    settings.REDIS_URL = "redis://127.0.0.1:9698/0"  # nothing listens there
    counting.reset_backend()
    response = client.get(listing.get_absolute_url(), **BROWSER)
    assert response.status_code == 200
    listing.refresh_from_db()
    assert listing.view_count == 0


# --- The similar listings' nightly figures -----------------------------------


def test_median_from_the_middle_values_matches_the_median_of_all_of_them():
    import random
    import statistics

    rng = random.Random(5)
    for n in range(0, 14):
        for _ in range(20):
            values = sorted(rng.choice([0, 0, 1, 2, 3, 5, 8, 40]) for _ in range(n))
            lo, hi = stats._middle_ranks(n)
            middle = values[lo : hi + 1]
            expected = statistics.median(values) if values else None
            assert stats.median_of(n, middle) == expected, values
            for i, taken in enumerate(values):
                rest = values[:i] + values[i + 1 :]
                expected = statistics.median(rest) if rest else None
                assert stats.median_of(n, middle, without=taken) == expected, (
                    values,
                    taken,
                )


def test_similar_figures_match_a_hand_count_and_leave_the_listing_out(db):
    """Four published 2-bedroom flats in Thamel; yesterday's and older views
    count, today's not (the nightly figures end on the last complete day)."""
    today = timezone.localdate()
    yesterday = today - dt.timedelta(days=1)
    mine, a, b, c = (ListingFactory() for _ in range(4))
    ListingFactory(status=Listing.Status.DRAFT)  # not published: not similar
    ListingFactory(bedrooms=3)  # another group
    for listing, views in [(mine, 10), (a, 4), (b, 8)]:
        ListingDay.objects.create(listing=listing, day=yesterday, views=views)
    ListingDay.objects.create(listing=c, day=today, views=50)  # after the window
    ListingDay.objects.create(listing=a, day=today - dt.timedelta(days=40), views=6)

    written = stats.similar_figures_build(last=yesterday)
    assert written == 4  # two groups, 30 and 90 days each
    figure = SimilarFigure.objects.get(
        locality=mine.locality, property_type="flat", bedrooms=2, days=30
    )
    assert (figure.listings, figure.first, figure.last) == (
        4,
        yesterday - dt.timedelta(days=29),
        yesterday,
    )
    assert figure.middle["views"] == [4, 8, 10]  # ranks 1-3 of 0, 4, 8, 10

    result = stats.listing_performance(listing=mine, days=30)
    # Of a, b and c (4, 8, 0): the median is 4; mine (10) is left out.
    assert (result.similar["views"], result.similar_count) == (4, 3)
    assert result.similar_last == yesterday
    assert result.totals["views"] == 10
    ninety = stats.listing_performance(listing=mine, days=90)
    # Over 90 days a has 4 + 6 = 10: of 10, 8, 0 the median is 8.
    assert ninety.similar["views"] == 8
    # A draft in the group is compared with all four published ones.
    draft = Listing.objects.get(status=Listing.Status.DRAFT)
    assert stats.listing_performance(listing=draft, days=30).similar["views"] == 6.0


def test_similar_figures_agree_with_counting_now_over_the_same_days(db):
    import random

    rng = random.Random(11)
    today = timezone.localdate()
    last = today - dt.timedelta(days=1)
    group = [ListingFactory() for _ in range(7)]
    outsider = ListingFactory(status=Listing.Status.RENTED)
    ListingDay.objects.bulk_create(
        ListingDay(
            listing=listing,
            day=last - dt.timedelta(days=offset),
            **{f: rng.randint(0, 9) for f in stats.COUNT_FIELDS},
        )
        for listing in [*group, outsider]
        for offset in rng.sample(range(95), 12)
    )
    stats.similar_figures_build(last=last)
    for days in stats.SIMILAR_DAYS:
        first = last - dt.timedelta(days=days - 1)
        for listing in [*group, outsider]:
            nightly = stats.listing_performance(listing=listing, days=days)
            counted, count = stats._similar_counted(listing, first, last)
            assert (nightly.similar, nightly.similar_count) == (counted, count)


def test_rollup_command_builds_the_figures_the_owner_page_shows(client, owner):
    from django.core.management import call_command

    yesterday = timezone.localdate() - dt.timedelta(days=1)
    mine = ListingFactory(owner=owner)
    other = ListingFactory()
    ListingDay.objects.create(listing=other, day=yesterday, views=12)
    call_command("listings_rollup", verbosity=0, stdout=io.StringIO())
    client.force_login(owner)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("listings:performance", args=[mine.pk]))
    html = response.content.decode()
    assert "Median of 1 similar listing" in html
    assert "(counted nightly)" in html
    assert not any(
        "GROUP BY" in q["sql"] and "listingday" in q["sql"].lower()
        for q in queries.captured_queries
    )
