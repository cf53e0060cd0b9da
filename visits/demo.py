"""Demo visiting hours, used by `manage.py seed_demo`."""

import datetime as dt

from listings.models import Listing
from visits.models import Availability, WeeklyWindow


def seed_visiting_hours(owners) -> int:
    """
    Visiting hours on the demo owners' published listings that have none yet:
    Saturday mornings, and weekday evenings on every other listing.
    """
    listings = (
        Listing.objects.published()
        .filter(owner__in=owners, availability__isnull=True)
        .order_by("pk")
    )
    saturday, weekdays = 5, range(5)
    count = 0
    for listing in listings:
        Availability.objects.create(
            listing=listing, instant_booking=listing.pk % 3 == 0
        )
        WeeklyWindow.objects.create(
            listing=listing,
            weekday=saturday,
            start_time=dt.time(10),
            end_time=dt.time(13),
        )
        if listing.pk % 2:
            WeeklyWindow.objects.bulk_create(
                WeeklyWindow(
                    listing=listing,
                    weekday=day,
                    start_time=dt.time(17),
                    end_time=dt.time(18, 30),
                )
                for day in weekdays
            )
        count += 1
    return count
