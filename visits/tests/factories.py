import datetime as dt

import factory

from accounts.tests.factories import UserFactory
from listings.tests import factories as listings_factories
from visits.models import Availability, BlockedDate, DateWindow, WeeklyWindow


class ListingFactory(listings_factories.ListingFactory):
    """A published flat in Jhamsikhel whose owner has a phone number."""

    owner = factory.SubFactory(
        UserFactory, role="owner", phone="+9779841234567", email_verified=True
    )
    locality = factory.LazyFunction(lambda: listings_factories.locality("jhamsikhel"))


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
