"""
The frequency cap of visitors without an account: counted in a cookie of
campaign ids and counts (ads/capping.py), nothing kept on the server.
"""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from ads import serving
from ads.capping import COOKIE_NAME, MAX_CAMPAIGNS, CookieCap, seconds_left_today
from ads.serving import Slot
from ads.store import get_store
from ads.tests.factories import live_campaign, page_request

pytestmark = pytest.mark.django_db

COUNTS = re.compile(r"^\d{8}(\.\d+-\d+)*$")


def _dnt_request(cookie: str = "", **extra):
    request = page_request(HTTP_DNT="1", **extra)
    if cookie:
        request.COOKIES[COOKIE_NAME] = cookie
    return request


def _serve_and_carry(cookie: str = "") -> tuple[list, str]:
    """One page for a DNT visitor, and the cookie their browser keeps after it."""
    request = _dnt_request(cookie)
    html = serving.serve(request, Slot("home"))
    cap = getattr(request, "_ads_cookie_cap", None)
    return html, cap.value() if cap is not None and cap.changed else cookie


def test_a_do_not_track_visitor_is_capped_by_a_cookie_of_counts_only():
    campaign = live_campaign(frequency_cap=2)
    cookie = ""
    served = []
    for _page in range(4):
        html, cookie = _serve_and_carry(cookie)
        served.append(bool(html))
    assert served == [True, True, False, False]
    # The cookie is today's date and "campaign-count": no identifier.
    assert COUNTS.match(cookie)
    assert cookie.split(".")[1:] == [f"{campaign.pk}-2"]


def test_the_same_cookie_for_every_visitor_with_the_same_counts():
    live_campaign(frequency_cap=3)
    _html, first = _serve_and_carry()
    request = _dnt_request(address="198.51.100.77", agent="Mozilla/5.0 (X11) Other")
    serving.serve(request, Slot("home"))
    assert request._ads_cookie_cap.value() == first


def test_nothing_about_a_do_not_track_visitor_is_kept_in_the_store():
    live_campaign(frequency_cap=2)
    store = get_store()
    before = _freq_keys(store)
    serving.serve(_dnt_request(), Slot("home"))
    serving.write_pending()
    assert _freq_keys(store) == before


def _freq_keys(store):
    if hasattr(store, "client"):
        return sorted(store.client.scan_iter(match=store.prefix + "freq:*"))
    return sorted(k for k in store.values if k.startswith("freq:"))


def test_a_cookie_of_another_day_or_malformed_counts_nothing():
    yesterday = (timezone.localdate() - timedelta(days=1)).strftime("%Y%m%d")
    assert CookieCap.parse(f"{yesterday}.5-9").counts == {}
    assert CookieCap.parse("garbage").counts == {}
    today = timezone.localdate().strftime("%Y%m%d")
    assert CookieCap.parse(f"{today}.5-2.x-1.7-y.8-123456.9-1").counts == {5: 2, 9: 1}
    hand_made = ".".join([today, *(f"{n}-1" for n in range(500))])
    assert len(CookieCap.parse(hand_made).counts) <= MAX_CAMPAIGNS


def test_the_cookie_keeps_the_most_recent_campaigns_only():
    cap = CookieCap()
    for campaign in range(MAX_CAMPAIGNS + 5):
        cap.add(campaign)
    cap.add(0)  # served again: it is kept
    assert len(cap.counts) == MAX_CAMPAIGNS
    assert cap.seen(0) == 1 and 0 in cap.counts
    assert cap.seen(1) == 0


def test_the_cookie_is_set_on_the_page_and_expires_by_midnight_in_nepal(client):
    live_campaign(placements=["home"], frequency_cap=1)
    response = client.get("/", HTTP_DNT="1", HTTP_USER_AGENT=_browser())
    assert b'class="ad-label"' in response.content
    morsel = response.cookies[COOKIE_NAME]
    assert COUNTS.match(morsel.value)
    assert 0 < int(morsel["max-age"]) <= seconds_left_today() + 1
    assert morsel["httponly"]
    # The next page carries it back: capped at one, no ad.
    again = client.get("/", HTTP_DNT="1", HTTP_USER_AGENT=_browser())
    assert b'class="ad-label"' not in again.content


def test_a_visitor_with_tracking_allowed_is_capped_by_the_same_cookie(client):
    live_campaign(placements=["home"], frequency_cap=1)
    response = client.get("/", HTTP_USER_AGENT=_browser())
    assert b'class="ad-label"' in response.content
    assert COUNTS.match(response.cookies[COOKIE_NAME].value)
    again = client.get("/", HTTP_USER_AGENT=_browser())
    assert b'class="ad-label"' not in again.content


def test_a_signed_in_person_gets_no_cap_cookie(client, tenant):
    live_campaign(placements=["home"], frequency_cap=1)
    client.force_login(tenant)
    response = client.get("/", HTTP_USER_AGENT=_browser())
    assert b'class="ad-label"' in response.content
    assert COOKIE_NAME not in response.cookies


def test_a_visitor_refusing_cookies_still_sees_no_campaign_twice_on_a_page():
    live_campaign(placements=["search"], frequency_cap=5)
    live_campaign(placements=["search"], frequency_cap=5)
    request = _dnt_request()
    html = serving.serve(request, Slot("search"), count=4)
    assert len(html) == 2  # two campaigns, each once
    again = serving.serve(request, Slot("search"))
    assert again == []


def _browser():
    from ads.tests.factories import BROWSER

    return BROWSER
