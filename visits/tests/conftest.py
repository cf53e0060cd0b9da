import datetime as dt

import pytest
import time_machine

from visits.tests.factories import (
    AvailabilityFactory,
    ListingFactory,
    WeeklyWindowFactory,
)

UTC = dt.UTC
# Tuesday 1 December 2026, 09:45 in Kathmandu.
NOW = dt.datetime(2026, 12, 1, 4, 0, tzinfo=UTC)


@pytest.fixture
def frozen_now():
    with time_machine.travel(NOW, tick=False):
        yield NOW


@pytest.fixture
def listing(owner):
    """Published, open on Saturdays 10:00–13:00 in 30-minute private slots."""
    listing = ListingFactory(owner=owner)
    AvailabilityFactory(listing=listing)
    WeeklyWindowFactory(listing=listing, weekday=5)
    return listing


def nepal(year, month, day, hour, minute=0):
    """An aware datetime from a Nepal wall-clock time (UTC+05:45)."""
    return dt.datetime(
        year,
        month,
        day,
        hour,
        minute,
        tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=45)),
    )
