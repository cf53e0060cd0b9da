import datetime as dt

import factory

from accounts.tests.factories import UserFactory
from listings.models import Listing, Locality
from visits.models import Availability, BlockedDate, DateWindow, WeeklyWindow


def jhamsikhel() -> Locality:
    """The locality loaded by migration (recreated after a transactional test flush)."""
    locality, _ = Locality.objects.get_or_create(
        slug="jhamsikhel",
        defaults={
            "name": "Jhamsikhel",
            "district": "Lalitpur",
            "latitude": "27.67900",
            "longitude": "85.30700",
        },
    )
    return locality


class ListingFactory(factory.django.DjangoModelFactory):
    """A published listing; the listings app owns the real forms."""

    class Meta:
        model = Listing

    owner = factory.SubFactory(
        UserFactory, role="owner", phone="+9779841234567", email_verified=True
    )
    title = factory.Sequence(lambda n: f"Sunny 2BHK flat number {n}")
    description = "Two bedrooms, a kitchen and a balcony facing the hills."
    property_type = Listing.PropertyType.FLAT
    locality = factory.LazyFunction(lambda: jhamsikhel())
    rent = 25000
    bike_parking = 2
    car_parking = 0
    water_source = Listing.WaterSource.MUNICIPAL
    water_hours = 6
    electricity_billing = Listing.ElectricityBilling.SUBMETER
    status = Listing.Status.PUBLISHED


class AvailabilityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Availability

    listing = factory.SubFactory(ListingFactory)
    slot_minutes = 30
    capacity = 1
    instant_booking = False


class WeeklyWindowFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WeeklyWindow

    listing = factory.SubFactory(ListingFactory)
    weekday = 5  # Saturday
    start_time = dt.time(10, 0)
    end_time = dt.time(13, 0)


class DateWindowFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DateWindow

    listing = factory.SubFactory(ListingFactory)
    date = dt.date(2026, 12, 6)
    start_time = dt.time(10, 0)
    end_time = dt.time(11, 0)


class BlockedDateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BlockedDate

    listing = factory.SubFactory(ListingFactory)
    date = dt.date(2026, 12, 6)


def open_every_day(listing, start=dt.time(0, 0), end=dt.time(0, 0), **availability):
    """Visiting hours on all seven days (by default round the clock)."""
    AvailabilityFactory(listing=listing, **availability)
    for weekday in range(7):
        WeeklyWindowFactory(
            listing=listing, weekday=weekday, start_time=start, end_time=end
        )
    return listing
