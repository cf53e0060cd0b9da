import pytest

from listings.models import Listing
from visits.demo import seed_visiting_hours
from visits.models import Availability
from visits.slots import free_slots
from visits.tests.factories import AvailabilityFactory, ListingFactory

pytestmark = pytest.mark.django_db


def test_demo_hours_go_on_published_listings_without_any_once(owner, other_owner):
    open_one, open_two = ListingFactory.create_batch(2, owner=owner)
    draft = ListingFactory(owner=owner, status=Listing.Status.DRAFT)
    own_hours = ListingFactory(owner=owner)
    AvailabilityFactory(listing=own_hours, slot_minutes=60)
    someone_elses = ListingFactory(owner=other_owner)

    assert seed_visiting_hours([owner]) == 2
    assert seed_visiting_hours([owner]) == 0

    with_hours = set(Availability.objects.values_list("listing_id", flat=True))
    assert with_hours == {open_one.pk, open_two.pk, own_hours.pk}
    assert draft.pk not in with_hours and someone_elses.pk not in with_hours
    assert own_hours.availability.slot_minutes == 60
    # Saturday mornings at least: tenants can book the demo listings.
    assert free_slots(open_one) and free_slots(open_two)
