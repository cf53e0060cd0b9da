from io import StringIO

import pytest
from django.core.management import call_command

from listings.models import Listing, ListingPhoto

pytestmark = pytest.mark.django_db


def test_seed_demo_creates_listings_with_photos_once(monkeypatch):
    monkeypatch.setattr("listings.management.commands.seed_demo.DEMO_LISTINGS", 12)
    monkeypatch.setattr("listings.demo.PHOTO_POOL", 2)
    monkeypatch.setattr("listings.demo.PENDING", 2)
    call_command("seed_demo", stdout=StringIO())
    assert Listing.objects.count() == 12
    assert Listing.objects.published().count() == 10
    assert Listing.objects.values("locality").distinct().count() == 12
    covers = ListingPhoto.objects.filter(is_cover=True)
    assert covers.count() == 12
    assert covers.first().large.name.endswith(".webp")
    from visits.models import WeeklyWindow
    from visits.slots import free_slots

    bookable = Listing.objects.published().filter(availability__isnull=False)
    assert bookable.count() == 10
    assert free_slots(bookable.first())  # the demo can book a visit right away
    windows = WeeklyWindow.objects.count()
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert Listing.objects.count() == 12
    assert WeeklyWindow.objects.count() == windows
    assert "already there" in out.getvalue()
