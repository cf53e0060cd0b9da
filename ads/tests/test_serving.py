import re
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from ads import serving
from ads.models import Campaign, DailyStat
from ads.serving import Slot
from ads.store import reset_store
from ads.tests.factories import BROWSER, live_campaign, page_request
from listings.tests.factories import ListingFactory, locality
from nobroker import counting

pytestmark = pytest.mark.django_db


def _viewer(request):
    return serving.viewer_for(request)


def test_the_index_lists_running_campaigns_with_creatives_per_placement():
    running = live_campaign(placements=["search"])
    live_campaign(placements=["home"], status=Campaign.Status.PAUSED)
    index = serving.index_rebuild()
    assert index["by_placement"] == {"search": [running.pk]}


def test_choosing_and_rendering_an_ad_runs_no_sql():
    campaign = live_campaign()
    request = page_request()
    serving.index_forget_locally()
    serving.current_index()  # this process's copy, read from the store
    with CaptureQueriesContext(connection) as queries:
        html = serving.serve(request, Slot("home"))
    assert len(queries) == 0
    assert len(html) == 1
    assert "Sponsored" in html[0]
    assert "/go/" in html[0] and "data-ad-view" in html[0]
    assert campaign.creatives.get().headline in html[0]


def test_a_locality_targeted_campaign_shows_only_for_that_locality():
    thamel, patan = locality("thamel"), locality("patan")
    campaign = live_campaign(placements=["search"])
    campaign.localities.set([thamel])
    serving.index_rebuild()
    viewer = _viewer(page_request())
    assert serving.choose(Slot("search", localities=frozenset([thamel.pk])), viewer)
    assert not serving.choose(Slot("search", localities=frozenset([patan.pk])), viewer)
    assert not serving.choose(Slot("search"), viewer)


def test_type_and_rent_targeting():
    campaign = live_campaign(
        placements=["listing"],
        property_types=["flat"],
        rent_min=20_000,
        rent_max=40_000,
    )
    assert campaign
    serving.index_rebuild()
    viewer = _viewer(page_request())
    flat = Slot("listing", types=frozenset(["flat"]), rent=(25_000, 25_000))
    room = Slot("listing", types=frozenset(["room"]), rent=(25_000, 25_000))
    cheap = Slot("listing", types=frozenset(["flat"]), rent=(None, 15_000))
    assert serving.choose(flat, viewer)
    assert not serving.choose(room, viewer)
    assert not serving.choose(cheap, viewer)


def _carrying(cookie: str, **extra):
    """A page request from a browser that kept the cap cookie `cookie`."""
    from ads.capping import COOKIE_NAME

    request = page_request(**extra)
    if cookie:
        request.COOKIES[COOKIE_NAME] = cookie
    return request


def _served(request, cookie: str = "") -> tuple[bool, str]:
    """Whether a home banner was served, and the cookie the browser keeps."""
    served = bool(serving.serve(request, Slot("home")))
    cap = getattr(request, "_ads_cookie_cap", None)
    return served, cap.value() if cap is not None and cap.changed else cookie


def test_the_frequency_cap_limits_one_browser_per_day_by_its_cookie():
    live_campaign(frequency_cap=2)
    cookie, seen = "", []
    for _ in range(3):
        served, cookie = _served(_carrying(cookie), cookie)
        seen.append(served)
    assert seen == [True, True, False]
    # Another browser, even on the same address, has a cap of its own.
    assert _served(page_request())[0]


def test_the_frequency_cap_limits_a_signed_in_person_on_every_device(tenant):
    live_campaign(frequency_cap=2)
    phone = [serving.serve(page_request(user=tenant), Slot("home")) for _ in range(2)]
    assert all(phone)
    laptop = page_request(
        user=tenant, address="198.51.100.4", agent="Mozilla/5.0 (X11)"
    )
    assert not serving.serve(laptop, Slot("home"))
    assert getattr(laptop, "_ads_cookie_cap", None) is None  # no cookie for them


def test_choosing_for_a_visitor_reads_the_spend_at_most_once_a_second(
    settings, monkeypatch
):
    settings.ADS_SPEND_SECONDS = 1.0
    live_campaign(frequency_cap=50)
    store = serving.get_store()
    reads = []
    real_mget = store.mget
    monkeypatch.setattr(
        store, "mget", lambda keys: reads.append(keys) or real_mget(keys)
    )
    clock = [1000.0]
    monkeypatch.setattr(serving.time, "monotonic", lambda: clock[0])
    for _ in range(5):
        assert serving.serve(page_request(), Slot("home"))
    assert len(reads) == 1  # one read for all five pages
    clock[0] += 1.5
    assert serving.serve(page_request(), Slot("home"))
    assert len(reads) == 2


def test_serving_waits_when_the_day_is_ahead_of_its_hourly_plan():
    # 05:10 tomorrow: inside the campaign's schedule whatever the hour the test runs.
    now = (timezone.localtime() + timedelta(days=1)).replace(hour=5, minute=10)
    campaign = live_campaign(daily_budget=2_400_00)
    serving.index_rebuild(now)
    store = serving.get_store()
    day = now.date().isoformat()
    allowance = serving.paced_allowance(campaign.daily_budget * 1000, now)
    assert allowance == 2_400_00 * 1000 * 6 // 24
    viewer = _viewer(page_request())
    store.set(f"spend:d:{day}:{campaign.pk}", allowance - 1)
    assert serving.choose(Slot("home"), viewer, now=now)
    store.set(f"spend:d:{day}:{campaign.pk}", allowance)
    assert not serving.choose(Slot("home"), viewer, now=now)
    later = now + timedelta(hours=1)
    assert serving.choose(Slot("home"), viewer, now=later)


def test_no_ad_once_the_balance_is_spent():
    campaign = live_campaign()
    store = serving.get_store()
    credit = int(store.get(f"credit:a:{campaign.advertiser_id}"))
    store.set(f"spend:a:{campaign.advertiser_id}", credit)
    assert not serving.choose(Slot("home"), _viewer(page_request()))


def test_with_the_store_unavailable_the_page_renders_without_ads(client, settings):
    live_campaign()
    serving.index_forget_locally()
    settings.REDIS_URL = "redis://127.0.0.1:9599/0"  # nothing listens there
    reset_store()
    counting.reset_backend()
    response = client.get("/", HTTP_USER_AGENT=BROWSER)
    assert response.status_code == 200
    assert b"Sponsored" not in response.content
    assert b"ad-banner" not in response.content


def test_served_views_by_bots_staff_and_the_advertiser_are_counted_as_filtered(staff):
    campaign = live_campaign()
    serving.serve(
        page_request(agent="Googlebot/2.1 (+http://www.google.com/bot.html)"),
        Slot("home"),
    )
    serving.serve(page_request(HTTP_SEC_PURPOSE="prefetch"), Slot("home"))
    serving.serve(page_request(user=staff), Slot("home"))
    serving.serve(page_request(user=campaign.advertiser.user), Slot("home"))
    serving.serve(page_request(), Slot("home"))
    counting.flush()
    row = DailyStat.objects.get(campaign=campaign)
    assert row.served == 1
    assert (row.filtered_bot, row.filtered_prefetch, row.filtered_internal) == (1, 1, 2)


def _listing_count(html: bytes) -> list[str]:
    """The kinds of the result cards in page order: L (listing), A (ad), B (boost)."""
    kinds = []
    for match in re.finditer(
        rb'<li class="(listing-card(?: listing-card--boosted)?|ad-card)"', html
    ):
        name = match.group(1)
        kinds.append("B" if b"boosted" in name else "A" if name == b"ad-card" else "L")
    return kinds


def test_search_results_have_one_ad_after_every_eight_results_never_first(client):
    ListingFactory.create_batch(20)
    live_campaign(placements=["search"])
    live_campaign(placements=["search"])
    live_campaign(placements=["search"])
    response = client.get(reverse("listings:search"), HTTP_USER_AGENT=BROWSER)
    kinds = _listing_count(response.content)
    assert kinds == ["L"] * 8 + ["A"] + ["L"] * 8 + ["A"] + ["L"] * 4
    assert response.content.count(b'class="ad-label">Sponsored<') == 2


def test_fewer_than_eight_results_show_no_ad_card(client):
    ListingFactory.create_batch(7)
    live_campaign(placements=["search"])
    response = client.get(reverse("listings:search"), HTTP_USER_AGENT=BROWSER)
    assert "A" not in _listing_count(response.content)


def test_the_search_page_with_ads_runs_no_more_queries_than_without(client, settings):
    ListingFactory.create_batch(10)
    live_campaign(placements=["search"])
    url = reverse("listings:search") + "?sort=rent_asc"
    client.get(url, HTTP_USER_AGENT=BROWSER)  # warm caches alike for both
    with CaptureQueriesContext(connection) as with_ads:
        response = client.get(url + "&p=1", HTTP_USER_AGENT=BROWSER)
    assert b"ad-card" in response.content
    settings.ADS_ENABLED = False
    with CaptureQueriesContext(connection) as without_ads:
        response = client.get(url + "&p=2", HTTP_USER_AGENT=BROWSER)
    assert b"ad-card" not in response.content
    assert len(with_ads) == len(without_ads)


def test_boosted_listings_lead_matching_searches_only_two_at_most(client, owner):
    from ads import services
    from ads.tests.factories import AdvertiserFactory, funded

    thamel, patan = locality("thamel"), locality("patan")
    ListingFactory.create_batch(3, locality=thamel)
    funded(AdvertiserFactory(user=owner), 10_000)
    boosted = [
        ListingFactory(owner=owner, locality=thamel, title=f"Boosted flat {n}")
        for n in range(3)
    ]
    for listing in boosted:
        services.boost_buy(owner=owner, listing=listing, days=5)
    serving.index_rebuild()
    response = client.get(
        reverse("listings:search") + "?locality=thamel", HTTP_USER_AGENT=BROWSER
    )
    kinds = _listing_count(response.content)
    assert kinds[:2] == ["B", "B"] and "B" not in kinds[2:]
    assert response.content.count(b"Boosted by the owner") == 2
    other = client.get(
        reverse("listings:search") + "?locality=patan", HTTP_USER_AGENT=BROWSER
    )
    assert b"Boosted by the owner" not in other.content
    assert patan
    too_dear = client.get(
        reverse("listings:search") + "?locality=thamel&rent_max=10000",
        HTTP_USER_AGENT=BROWSER,
    )
    assert b"Boosted by the owner" not in too_dear.content


def test_a_boosted_card_is_not_repeated_among_the_results(client, owner):
    from ads import services
    from ads.tests.factories import AdvertiserFactory, funded

    listing = ListingFactory(owner=owner, title="The one boosted flat")
    funded(AdvertiserFactory(user=owner), 1_000)
    services.boost_buy(owner=owner, listing=listing, days=2)
    serving.index_rebuild()
    response = client.get(reverse("listings:search"), HTTP_USER_AGENT=BROWSER)
    assert response.content.count(b"The one boosted flat</h3>") == 1


def test_listing_page_home_and_inbox_carry_their_placements(client, tenant):
    listing = ListingFactory(locality=locality("thamel"))
    live_campaign(placements=["listing", "home", "inbox"])
    page = client.get(listing.get_absolute_url(), HTTP_USER_AGENT=BROWSER)
    assert b'class="ad-box"' in page.content
    home = client.get("/", HTTP_USER_AGENT=BROWSER)
    assert b'class="ad-banner"' in home.content
    client.force_login(tenant)
    from messaging.models import Conversation

    Conversation.objects.create(listing=listing, tenant=tenant, owner=listing.owner)
    inbox = client.get(reverse("messaging:inbox"), HTTP_USER_AGENT=BROWSER)
    assert b'class="ad-line"' in inbox.content
    # The script and styles come once per page, as files (no inline script).
    assert home.content.count(b"js/ads.js") == 1
    assert b"<script>" not in home.content


def test_served_counts_are_written_beside_the_page_in_batches(
    settings, monkeypatch, tenant
):
    settings.ADS_DEFER_WRITES = True
    # The test writes the batch itself instead of the quarter-second thread.
    started = threading.Event()
    started.set()
    monkeypatch.setattr(serving, "_writer_started", started)
    campaign = live_campaign(frequency_cap=1)
    # A signed-in person: their cap is counted in the store, in the batch.
    request = page_request(user=tenant)
    with CaptureQueriesContext(connection):
        assert serving.serve(request, Slot("home"))
    counting.flush()
    assert not DailyStat.objects.filter(campaign=campaign).exists()  # not yet
    serving.write_pending()  # what the writer thread does every quarter second
    counting.flush()
    assert DailyStat.objects.get(campaign=campaign).served == 1
    assert not serving.serve(page_request(user=tenant), Slot("home"))  # capped
