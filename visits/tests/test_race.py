"""Tenants racing for the last place of a slot, in real concurrent transactions."""

import threading
import uuid

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils.html import strip_tags

from accounts.tests.factories import UserFactory
from visits import services
from visits.models import Slot, Visit
from visits.tests.conftest import NOW, nepal
from visits.tests.factories import (
    AvailabilityFactory,
    ListingFactory,
    WeeklyWindowFactory,
)

pytestmark = [
    pytest.mark.skipif(
        not settings.IS_POSTGRES,
        reason="SQLite runs one writer at a time, so there is no race to test; "
        "the row lock is proven on PostgreSQL.",
    ),
    pytest.mark.django_db(transaction=True),
]


def run_together(*calls):
    """Starts every call at the same moment in its own thread and connection."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def worker(index, call):
        try:
            barrier.wait(timeout=10)
            results[index] = call()
        except Exception as exc:  # the losing side's error is the result
            results[index] = exc
        finally:
            connection.close()

    threads = [
        threading.Thread(target=worker, args=(i, call)) for i, call in enumerate(calls)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def make_listing(capacity=1):
    listing = ListingFactory()
    AvailabilityFactory(listing=listing, capacity=capacity)
    WeeklyWindowFactory(listing=listing, weekday=5)
    return listing


@pytest.mark.parametrize("slot_row", ["new", "existing", "existing", "existing"])
def test_exactly_one_of_two_racing_tenants_gets_the_last_place(slot_row):
    listing = make_listing()
    alice, bikash = UserFactory(), UserFactory()
    slot_start = nepal(2026, 12, 5, 10, 0)
    if slot_row == "existing":
        # Booked once and cancelled: the ledger row is there, with its place free.
        Slot.objects.create(
            listing=listing,
            starts_at=slot_start,
            ends_at=nepal(2026, 12, 5, 10, 30),
            capacity=1,
            booked=0,
        )

    def request(tenant):
        return lambda: services.visit_request(
            tenant=tenant,
            listing=listing,
            starts_at=slot_start,
            idempotency_key=uuid.uuid4(),
            now=NOW,
        )

    results = run_together(request(alice), request(bikash))

    winners = [r for r in results if isinstance(r, Visit)]
    losers = [r for r in results if isinstance(r, services.SlotTaken)]
    assert len(winners) == 1, results
    assert len(losers) == 1, results
    assert Visit.objects.count() == 1
    assert Slot.objects.get().booked == 1


def test_open_house_gives_its_two_last_places_to_two_of_four_tenants():
    listing = make_listing(capacity=3)
    slot_start = nepal(2026, 12, 5, 10, 0)
    services.visit_request(
        tenant=UserFactory(), listing=listing, starts_at=slot_start, now=NOW
    )
    tenants = [UserFactory() for _ in range(4)]

    results = run_together(
        *[
            (
                lambda t=t: services.visit_request(
                    tenant=t, listing=listing, starts_at=slot_start, now=NOW
                )
            )
            for t in tenants
        ]
    )

    assert sum(isinstance(r, Visit) for r in results) == 2, results
    assert sum(isinstance(r, services.SlotTaken) for r in results) == 2, results
    assert Slot.objects.get().booked == 3


def test_the_tenant_who_loses_the_race_sees_why_and_the_remaining_slots(
    live_server_time,
):
    listing = make_listing()
    slot_start = nepal(2026, 12, 5, 10, 0)
    url = reverse("visits:book", kwargs={"listing_pk": listing.pk})
    clients = []
    for _ in range(2):
        client = Client()
        client.force_login(UserFactory())
        clients.append(client)
    value = slot_start.isoformat()

    def post(client):
        return lambda: client.post(
            url, {"slot": value, "idempotency_key": str(uuid.uuid4())}
        )

    responses = run_together(post(clients[0]), post(clients[1]))

    assert sorted(r.status_code for r in responses) == [302, 409], responses
    lost = next(r for r in responses if r.status_code == 409)
    page = " ".join(strip_tags(lost.content.decode()).split())
    assert "This slot was just taken" in page
    assert "Sat, 5 Dec · 10:30 AM" in page
    assert "Sat, 5 Dec · 10:00 AM" not in page
    assert Visit.objects.count() == 1


@pytest.fixture
def live_server_time():
    """Freezes the clock for the request threads too (time-machine is global)."""
    import time_machine

    with time_machine.travel(NOW, tick=False):
        yield NOW
