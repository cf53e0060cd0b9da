"""Similar listings on a listing's page: the newest of its type nearby."""

from datetime import timedelta

import pytest
from django.utils import timezone

from listings.models import Listing
from listings.tests.factories import ListingFactory, locality

pytestmark = pytest.mark.django_db


def _flat(where: str, hours_ago: int, **fields) -> Listing:
    return ListingFactory(
        locality=locality(where),
        published_at=timezone.now() - timedelta(hours=hours_ago),
        **fields,
    )


def test_similar_listings_are_the_newest_of_its_type_nearby(client):
    listing = _flat("sanepa", 100, title="This flat")
    newest = [
        _flat("jhamsikhel", 1, title="Jhamsikhel, an hour old"),
        _flat("sanepa", 2, title="Sanepa, two hours old"),
        _flat("jhamsikhel", 3, title="Jhamsikhel, three hours old"),
        _flat("sanepa", 4, title="Sanepa, four hours old"),
    ]
    _flat("sanepa", 5, title="Sanepa, five hours old")
    _flat("sanepa", 0, title="A room", property_type=Listing.PropertyType.ROOM)
    _flat("nagarkot", 0, title="Far away")
    ListingFactory(locality=locality("sanepa"), status=Listing.Status.DRAFT)

    response = client.get(listing.get_absolute_url())

    assert response.context["similar"] == newest
    html = response.content.decode()
    assert "Sanepa, five hours old" not in html
    assert "A room" not in html and "Far away" not in html
