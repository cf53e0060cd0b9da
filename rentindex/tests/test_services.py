"""The rent index: medians and quartiles by hand, suppression, repeat rents."""

import csv
import datetime as dt
import io
import statistics

import pytest
from django.urls import reverse
from django.utils import timezone

from listings.models import Listing, ListingRent
from listings.tests.factories import ListingFactory, locality
from rentindex import services
from rentindex.models import MIN_LISTINGS, RentFigure

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 12, 2)


@pytest.fixture(autouse=True)
def _fresh_figures():
    services.forget_local()
    yield
    services.forget_local()


def _at(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(12)))


def _flats(n, *, place="baluwatar", rents=None, bedrooms=2, day=dt.date(2026, 11, 10)):
    rents = rents or [20_000 + 1_000 * i for i in range(n)]
    return [
        ListingFactory(
            locality=locality(place),
            rent=rent,
            bedrooms=bedrooms,
            published_at=_at(day),
        )
        for rent in rents
    ]


def test_median_and_middle_half_match_a_hand_count():
    rents = [
        12_000,
        15_000,
        18_000,
        20_000,
        21_000,
        25_000,
        26_000,
        30_000,
        35_000,
        60_000,
    ]
    _flats(10, rents=rents)
    services.rent_index_build(today=TODAY)
    figure = RentFigure.objects.headline().get(
        locality=locality("baluwatar"), property_type="flat", bedrooms=None
    )
    q1, median, q3 = statistics.quantiles(rents, n=4, method="inclusive")
    assert (figure.listings, figure.median) == (10, round(median))
    assert (figure.lower_quartile, figure.upper_quartile) == (round(q1), round(q3))
    assert figure.median == 23_000  # (21,000 + 25,000) / 2


def test_no_figure_where_fewer_than_ten_listings_stand_behind_it():
    _flats(MIN_LISTINGS - 1)
    services.rent_index_build(today=TODAY)
    figure = RentFigure.objects.headline().get(
        locality=locality("baluwatar"), property_type="flat", bedrooms=None
    )
    assert figure.listings == MIN_LISTINGS - 1
    assert figure.median is None and figure.lower_quartile is None
    response = services.headline_for(
        locality_id=locality("baluwatar").pk, property_type="flat"
    )
    assert response is None


def test_page_and_csv_show_no_figure_under_the_threshold(client):
    _flats(MIN_LISTINGS - 1, rents=[33_333] * 9)
    # Enough elsewhere that the whole valley's quartiles are not these rents.
    _flats(30, place="jhamsikhel", rents=[44_444] * 30)
    services.rent_index_build(today=TODAY)
    page = client.get(reverse("rentindex:index")).content.decode()
    assert "Rs. 44,444" in page and "Rs. 33,333" not in page
    assert "Fewer than 10 listings" in page
    rows = list(
        csv.reader(io.StringIO(client.get(reverse("rentindex:csv")).content.decode()))
    )
    assert ["Baluwatar", "flat", "all", "last 12 months", "9", "", "", ""] in rows
    assert "33333" not in str(rows)
    assert [
        "Jhamsikhel",
        "flat",
        "all",
        "last 12 months",
        "30",
        "44444",
        "44444",
        "44444",
    ] in rows


def test_a_place_relisted_at_a_new_rent_counts_again():
    listings = _flats(10, rents=[20_000] * 10)
    # One goes back on the site at a higher rent: eleven rents stand behind it.
    ListingRent.objects.create(
        listing=listings[0], rent=31_000, at=_at(dt.date(2026, 11, 20))
    )
    ListingRent.objects.create(
        listing=listings[0], rent=20_000, at=_at(dt.date(2026, 11, 10))
    )
    services.rent_index_build(today=TODAY)
    figure = RentFigure.objects.headline().get(
        locality=locality("baluwatar"), property_type="flat", bedrooms=None
    )
    assert figure.listings == 11
    assert figure.upper_quartile == 20_000 and figure.median == 20_000


def test_flats_also_count_by_bedrooms_and_the_trend_is_by_month():
    _flats(10, bedrooms=2, day=dt.date(2026, 10, 5))
    _flats(10, bedrooms=3, rents=[50_000] * 10, day=dt.date(2026, 11, 5))
    old = ListingFactory(
        locality=locality("baluwatar"), published_at=_at(dt.date(2025, 11, 30))
    )
    services.rent_index_build(today=TODAY)
    baluwatar = locality("baluwatar")
    three = RentFigure.objects.headline().get(locality=baluwatar, bedrooms=3)
    assert (three.listings, three.median) == (10, 50_000)
    months = dict(
        RentFigure.objects.monthly()
        .filter(locality=baluwatar, property_type="flat", bedrooms=None)
        .values_list("month", "listings")
    )
    assert months == {dt.date(2026, 10, 1): 10, dt.date(2026, 11, 1): 10}
    assert old.published_at.date() < services.first_month(TODAY)  # left out
    # The whole valley has a figure of its own.
    assert (
        RentFigure.objects.headline()
        .get(locality=None, property_type="flat", bedrooms=None)
        .listings
        == 20
    )


def test_a_rebuild_replaces_every_figure():
    _flats(10)
    services.rent_index_build(today=TODAY)
    count = RentFigure.objects.count()
    services.rent_index_build(today=TODAY)
    assert RentFigure.objects.count() == count


def test_cards_and_listing_pages_place_a_rent_against_the_locality(client):
    _flats(
        10,
        rents=[
            20_000,
            21_000,
            22_000,
            23_000,
            24_000,
            25_000,
            26_000,
            27_000,
            28_000,
            29_000,
        ],
        day=timezone.localdate(),
    )
    services.rent_index_build()
    services.forget_local()
    pricey = ListingFactory(locality=locality("baluwatar"), rent=60_000, bedrooms=2)
    usual = ListingFactory(locality=locality("baluwatar"), rent=24_000, bedrooms=2)
    assert services.rent_position(pricey) == "above"
    assert services.rent_position(usual) == "typical"
    assert services.rent_sentence(pricey) == (
        "Rs. 35,500 above the median for 2-bedroom flats in Baluwatar"
    )
    page = client.get(pricey.get_absolute_url()).content.decode()
    assert "Rs. 35,500 above the median for 2-bedroom flats in Baluwatar" in page
    assert reverse("rentindex:index") in page
    search = client.get(reverse("listings:search")).content.decode()
    assert "Above the locality&#x27;s typical rent" in search
    assert "Typical rent for this locality" in search
    assert reverse("rentindex:index") in search


def test_listings_never_published_are_left_out():
    _flats(10)
    ListingFactory(
        locality=locality("baluwatar"), status=Listing.Status.DRAFT, rent=99_000
    )
    services.rent_index_build(today=TODAY)
    assert (
        RentFigure.objects.headline()
        .get(locality=locality("baluwatar"), bedrooms=None)
        .listings
        == 10
    )


def test_after_a_build_the_page_reads_one_group_and_the_csv_no_database(
    client, django_capture_on_commit_callbacks
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    _flats(10, bedrooms=2, day=dt.date(2026, 10, 5))
    with django_capture_on_commit_callbacks(execute=True):
        services.rent_index_build(today=TODAY)
    services.forget_local()  # a process that has read nothing yet
    url = reverse("rentindex:index")
    client.get("/rent/")  # the localities are cached by any page
    with CaptureQueriesContext(connection) as queries:
        page = client.get(url, {"locality": "baluwatar"})
    # The month's figure of the group asked for; no figure is recounted and
    # the twelve-month figures come from the cache the build filled.
    figures = [q["sql"] for q in queries if "rentindex_rentfigure" in q["sql"]]
    assert len(figures) == 1 and "month" in figures[0]
    assert "Oct 2026" in page.content.decode()
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("rentindex:csv"))
    assert not [q for q in queries if "rentindex_rentfigure" in q["sql"]]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert ["Baluwatar", "flat", "all", "2026-10", "10"] in [r[:5] for r in rows]

    # A rebuild is what readers see next, the CSV included.
    _flats(5, rents=[90_000] * 5, day=dt.date(2026, 11, 5))
    with django_capture_on_commit_callbacks(execute=True):
        services.rent_index_build(today=TODAY)
    rows = list(
        csv.reader(io.StringIO(client.get(reverse("rentindex:csv")).content.decode()))
    )
    assert ["Baluwatar", "flat", "all", "last 12 months", "15"] in [r[:5] for r in rows]
