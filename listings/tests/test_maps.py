"""The listing map at locality precision, and the search map's visible area."""

import json
from html import unescape

import pytest
from django.urls import reverse

from listings.tests.factories import ListingFactory, locality

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _tiles(settings):
    settings.MAP_TILE_URL = "https://tiles.example/{z}/{x}/{y}.png"


def test_listing_map_shows_the_locality_not_the_owners_pin(client):
    listing = ListingFactory(
        locality=locality("thamel"), latitude="27.71611", longitude="85.31377"
    )
    html = client.get(listing.get_absolute_url()).content.decode()
    assert 'data-map data-lat="27.71530" data-lng="85.31230"' in html
    assert "27.7161" not in html and "85.3137" not in html
    assert "vendor/leaflet/leaflet.js" in html
    # The text location stays for when tiles cannot load.
    assert "data-map-fallback" in html


def test_owner_who_opts_in_shows_the_exact_pin(client):
    listing = ListingFactory(
        locality=locality("thamel"),
        latitude="27.71611",
        longitude="85.31377",
        pin_exact=True,
    )
    html = client.get(listing.get_absolute_url()).content.decode()
    assert 'data-lat="27.71611" data-lng="85.31377" data-zoom="16"' in html


def test_map_view_area_narrows_the_results_to_localities_in_view(client):
    ListingFactory(locality=locality("thamel"), title="Thamel flat")
    ListingFactory(locality=locality("bhaktapur"), title="Bhaktapur house")
    around_thamel = "27.70,85.30,27.73,85.33"
    html = client.get(
        reverse("listings:search"), {"view": "map", "bbox": around_thamel}
    ).content.decode()
    assert "Thamel flat" in html
    assert "Bhaktapur house" not in html
    points = json.loads(unescape(html.split('data-points="')[1].split('"')[0]))
    assert [p["label"] for p in points] == ["Thamel (1)"]


def test_a_bad_area_is_ignored_not_an_error(client):
    ListingFactory(title="Anywhere flat")
    response = client.get(reverse("listings:search"), {"bbox": "north,of,here"})
    assert response.status_code == 200
    assert "Anywhere flat" in response.content.decode()


def test_csp_allows_exactly_the_tile_host_for_images():
    from django.conf import settings

    img_src = settings.CONTENT_SECURITY_POLICY["img-src"]
    assert settings.MAP_TILE_ORIGINS == ["https://tile.openstreetmap.org"]
    assert "https://tile.openstreetmap.org" in img_src
    assert [s for s in img_src if s.startswith("https://")] == settings.MAP_TILE_ORIGINS
