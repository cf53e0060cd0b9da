"""
Visiting slots in Nepal time: which starts the owner's windows give over the
next 14 days, which still have a place, and how a slot is written and read.
Nothing here writes to the database; booking is in `visits.services`.
"""

import datetime as dt
from dataclasses import dataclass

from django.core.cache import cache
from django.db import transaction
from django.utils import dateformat, timezone

from listings.models import Listing
from visits.models import Availability, Slot

BOOKING_HORIZON_DAYS = 14
VISIT_TIME_FORMAT = "D, j M · g:i A"


@dataclass(frozen=True)
class SlotOption:
    starts_at: dt.datetime
    ends_at: dt.datetime
    remaining: int

    @property
    def value(self) -> str:
        """The slot as posted by a form: its start in UTC, ISO 8601."""
        return self.starts_at.astimezone(dt.UTC).isoformat()

    @property
    def local_day(self) -> dt.date:
        return timezone.localtime(self.starts_at).date()


def format_visit_time(value: dt.datetime) -> str:
    """'Sat, 6 Dec · 10:30 AM' in Nepal time."""
    return dateformat.format(timezone.localtime(value), VISIT_TIME_FORMAT)


def parse_slot_value(value: str) -> dt.datetime | None:
    try:
        parsed = dt.datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    if timezone.is_naive(parsed):
        return None
    return parsed


def availability_for(listing: Listing) -> Availability:
    """The listing's settings, or the defaults when the owner never saved any."""
    try:
        return listing.availability
    except Availability.DoesNotExist:
        return Availability(listing=listing)


def candidate_slots(
    listing: Listing, availability: Availability, first_day: dt.date, last_day: dt.date
) -> dict[dt.datetime, dt.datetime]:
    """Every slot start (and its end) that the windows give between two Nepal dates."""
    tz = timezone.get_default_timezone()
    length = availability.slot_length
    blocked = set(
        listing.blocked_dates.filter(date__range=(first_day, last_day)).values_list(
            "date", flat=True
        )
    )
    weekly = list(listing.weekly_windows.all())
    by_date: dict[dt.date, list] = {}
    for window in listing.date_windows.filter(date__range=(first_day, last_day)):
        by_date.setdefault(window.date, []).append(window)

    slots: dict[dt.datetime, dt.datetime] = {}
    day = first_day
    while day <= last_day:
        if day not in blocked:
            windows = [w for w in weekly if w.weekday == day.weekday()]
            windows += by_date.get(day, [])
            for window in windows:
                start, end = window.bounds_on(day, tz)
                while start + length <= end:
                    slots[start] = start + length
                    start += length
        day += dt.timedelta(days=1)
    return slots


def horizon(now: dt.datetime) -> tuple[dt.date, dt.date]:
    today = timezone.localdate(now)
    return today, today + dt.timedelta(days=BOOKING_HORIZON_DAYS - 1)


def free_slots(
    listing: Listing, *, now: dt.datetime | None = None, limit: int | None = None
) -> list[SlotOption]:
    """The slots of the next 14 Nepal days that still have a place, soonest first."""
    now = now or timezone.now()
    availability = availability_for(listing)
    first_day, last_day = horizon(now)
    candidates = candidate_slots(listing, availability, first_day, last_day)
    starts = sorted(start for start in candidates if start > now)
    if not starts:
        return []
    taken = {
        slot.starts_at: slot.booked
        for slot in Slot.objects.filter(
            listing=listing, starts_at__gte=starts[0], starts_at__lte=starts[-1]
        ).only("starts_at", "booked")
    }
    options = []
    for start in starts:
        remaining = availability.capacity - taken.get(start, 0)
        if remaining > 0:
            options.append(SlotOption(start, candidates[start], remaining))
            if limit and len(options) >= limit:
                break
    return options


PANEL_CACHE_SECONDS = 5 * 60


def _panel_key(listing_id: int) -> str:
    return f"visits:next-free:{listing_id}"


def next_free_slots(listing: Listing, *, limit: int = 4) -> list[SlotOption]:
    """
    The first free slots shown on a listing page, cached: the page is read far
    more often than slots change, and every change forgets the cached ones.
    """
    key = _panel_key(listing.pk)
    options = cache.get(key)
    now = timezone.now()
    if options is None:
        options = free_slots(listing, now=now, limit=limit)
        cache.set(key, options, PANEL_CACHE_SECONDS)
    # A cached slot may have started since: never offer a past one.
    return [option for option in options if option.starts_at > now]


def forget_free_slots(listing_id: int) -> None:
    """Drops the cached listing-page slots once the change is committed."""
    transaction.on_commit(lambda: cache.delete(_panel_key(listing_id)))


def bookable_end(
    listing: Listing, starts_at: dt.datetime, now: dt.datetime
) -> dt.datetime | None:
    """The end of the slot that starts then, if it is an offered future slot."""
    if starts_at <= now:
        return None
    first_day, last_day = horizon(now)
    day = timezone.localtime(starts_at).date()
    if not first_day <= day <= last_day:
        return None
    candidates = candidate_slots(listing, availability_for(listing), day, day)
    return candidates.get(starts_at)
