"""Budgets hold: a simulated day lands on its budget; concurrent clicks bill once."""

import random
import threading
from datetime import datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from ads import events, serving
from ads.models import MILLI, Campaign, DailyStat, LedgerEntry
from ads.serving import Slot
from ads.tests.factories import BROWSER, live_campaign, page_request
from nobroker import counting

pytestmark = pytest.mark.django_db


def _view_once(address: str) -> str | None:
    """One page view by one person who looks at the ad: what the beacon answered."""
    request = page_request(address=address)
    html = serving.serve(request, Slot("home"))
    if not html:
        return None
    token = html[0].split('data-ad-view="', 1)[1].split('"', 1)[0]
    return events.record_view(page_request(address=address), token)


def test_a_simulated_day_spends_its_daily_budget_within_two_percent_spread_by_hour():
    """
    A day of traffic in compressed time: more visitors in the day than at
    night, more than the budget can pay for in all. The spend ends within 2 %
    of the daily budget, and by every hour's end no more than that hour's
    share of it (plus one impression) has been spent.
    """
    rng = random.Random(11)
    midnight = timezone.make_aware(
        datetime.combine(timezone.localdate() + timedelta(days=1), datetime.min.time())
    )
    with time_machine.travel(midnight - timedelta(hours=2), tick=False) as clock:
        # Rs. 300 a day at Rs. 100 per thousand: 3,000 impressions.
        campaign = live_campaign(
            placements=["home"],
            daily_budget=300_00,
            total_budget=10_000_00,
            price=100_00,
            frequency_cap=50,
            starts_at=midnight - timedelta(hours=3),
            ends_at=midnight + timedelta(days=2),
        )
        daily = campaign.daily_budget * MILLI
        store = serving.get_store()
        day = midnight.date().isoformat()
        spent_by_hour = []
        for hour in range(24):
            clock.move_to(midnight + timedelta(hours=hour, minutes=1))
            serving.index_rebuild()  # what ads_tick does every minute
            visitors = 90 if hour < 6 else 260  # night, then day
            for n in range(visitors):
                clock.move_to(
                    midnight + timedelta(hours=hour, minutes=1 + n * 58 // visitors)
                )
                if rng.random() < 0.8:  # most views are scrolled into sight
                    _view_once(f"10.{hour}.{n // 200}.{n % 200}")
            spent_by_hour.append(int(store.get(f"spend:d:{day}:{campaign.pk}") or 0))
        for hour, spent in enumerate(spent_by_hour):
            assert spent <= daily * (hour + 1) // 24 + campaign.unit_cost_milli
        assert spent_by_hour[11] < daily * 0.6  # not front-loaded
        counting.flush()
    total = sum(
        DailyStat.objects.filter(campaign=campaign, day=midnight.date()).values_list(
            "spend_milli", flat=True
        )
    )
    assert daily * 0.98 <= total <= daily
    billed = -sum(
        LedgerEntry.objects.filter(campaign=campaign, kind="spend").values_list(
            "amount", flat=True
        )
    )
    assert billed == total // MILLI


@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_clicks_on_a_budget_for_one_are_billed_once():
    if connection.vendor != "postgresql":
        pytest.skip("Concurrency is tested on PostgreSQL (threads, row locks).")
    campaign = live_campaign(
        price_model=Campaign.PriceModel.CPC,
        price=5_00,
        daily_budget=5_00,
        total_budget=5_00,
    )
    # Fifty different people each have a click link.
    tokens = []
    for n in range(50):
        html = serving.serve(page_request(address=f"10.9.0.{n}"), Slot("home"))
        tokens.append(html[0].split('href="/go/', 1)[1].split('"', 1)[0])
    barrier = threading.Barrier(50)
    statuses = []

    def click(n):
        client = Client()
        barrier.wait()
        response = client.get(
            reverse("ads:click", args=[tokens[n]]),
            HTTP_USER_AGENT=BROWSER,
            REMOTE_ADDR=f"10.9.0.{n}",
        )
        statuses.append(response.status_code)
        connection.close()

    threads = [threading.Thread(target=click, args=(n,)) for n in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert statuses == [302] * 50
    # Two flushers at once, as from two machines: still billed once.
    flushers = [threading.Thread(target=_flush_and_close) for _ in range(2)]
    for thread in flushers:
        thread.start()
    for thread in flushers:
        thread.join(timeout=60)
    row = DailyStat.objects.get(campaign=campaign)
    assert row.clicks == 50
    assert row.spend_milli == 5_00 * MILLI
    spend = LedgerEntry.objects.filter(campaign=campaign, kind="spend")
    assert [e.amount for e in spend] == [-5_00]
    assert LedgerEntry.objects.balance_of(campaign.advertiser) == 100_000_00 - 5_00


def _flush_and_close():
    try:
        counting.flush()
    finally:
        connection.close()


def test_the_total_budget_is_never_overspent_by_more_than_one_unit():
    late = timezone.localtime().replace(hour=23, minute=30)  # the day's last hour
    with time_machine.travel(late, tick=False):
        campaign = live_campaign(
            placements=["home"],
            daily_budget=1_00,
            total_budget=1_00,
            price=30_00,  # 3 paisa an impression: Re. 1 pays for 33 of them
            frequency_cap=50,
            starts_at=late - timedelta(hours=1),
        )
        answers = [_view_once(f"10.8.{n // 200}.{n % 200}") for n in range(60)]
        counting.flush()
    row = DailyStat.objects.get(campaign=campaign)
    assert row.spend_milli <= campaign.total_budget * MILLI
    assert campaign.total_budget * MILLI - row.spend_milli < campaign.unit_cost_milli
    assert answers.count(None) > 0  # serving stopped once the budget was used


def test_the_balance_stops_billing_before_it_would_go_negative():
    campaign = live_campaign(price_model=Campaign.PriceModel.CPC, price=400_00)
    store = serving.get_store()
    credit = int(store.get(f"credit:a:{campaign.advertiser_id}"))
    # Spent elsewhere already, leaving less than one click.
    store.set(f"spend:a:{campaign.advertiser_id}", credit - 399_00 * MILLI)
    html = serving.serve(page_request(), Slot("home"))
    assert not html  # not even served: it could not be paid for
    entry = serving.current_index()["campaigns"][campaign.pk]
    charged = store.bill(
        keys=[
            f"spend:d:{timezone.localdate().isoformat()}:{campaign.pk}",
            f"spend:t:{campaign.pk}",
            f"spend:a:{campaign.advertiser_id}",
            f"credit:a:{campaign.advertiser_id}",
        ],
        amount=entry["unit"],
        day_cap=entry["daily_cap"],
        total_cap=entry["total_cap"],
    )
    assert charged == 0
