"""The beacon, the click redirect and what they refuse to count."""

import os
import re

import pytest
import time_machine
from django.core import signing
from django.urls import reverse
from django.utils import timezone

from ads import serving
from ads.models import Campaign, DailyStat
from ads.serving import Slot
from ads.store import reset_store
from ads.tests.factories import BROWSER, live_campaign, page_request
from ads.tracking import CLICK_SALT, VIEW_SALT, make_token
from nobroker import counting

pytestmark = pytest.mark.django_db

ADDRESS = "203.0.113.9"


def _tokens(html: str) -> tuple[str, str]:
    view = re.search(r'data-ad-view="([^"]+)"', html).group(1)
    click = re.search(r'href="/go/([^"]+)"', html).group(1)
    return view, click


def _served(user=None, **extra):
    html = serving.serve(
        page_request(user=user, address=ADDRESS, **extra), Slot("home")
    )
    assert html, "no ad was served"
    return _tokens(html[0])


def _beacon(client, token, **headers):
    return client.post(
        reverse("ads:seen"),
        {"token": token},
        HTTP_USER_AGENT=headers.pop("agent", BROWSER),
        REMOTE_ADDR=ADDRESS,
        **headers,
    )


def _click(client, token, **headers):
    return client.get(
        reverse("ads:click", args=[token]),
        HTTP_USER_AGENT=headers.pop("agent", BROWSER),
        REMOTE_ADDR=ADDRESS,
        **headers,
    )


def _row(campaign):
    counting.flush()
    return DailyStat.objects.filter(campaign=campaign).first()


def test_a_viewable_impression_counts_once_per_rendering(client):
    campaign = live_campaign()
    view, _click_token = _served()
    first = _beacon(client, view)
    assert first.status_code == 200 and first.json()["counted"] is True
    second = _beacon(client, view)
    assert second.json()["counted"] is False
    row = _row(campaign)
    assert (row.served, row.viewable, row.filtered_reused) == (1, 1, 1)
    assert row.spend_milli == campaign.price  # one impression of a CPM price


def test_a_forged_altered_or_old_token_is_refused_with_404(client):
    live_campaign()
    view, click = _served()
    assert _beacon(client, view[:-2] + "xx").status_code == 404
    assert _beacon(client, "").status_code == 404
    # A click token is not a view token, nor the other way round.
    assert _beacon(client, click).status_code == 404
    assert _click(client, view).status_code == 404
    assert _click(client, click[:-2] + "xx").status_code == 404
    with time_machine.travel(timezone.now() + timezone.timedelta(hours=4)):
        assert _click(client, click).status_code == 404


def test_a_click_goes_to_the_creative_link_and_counts_once(client):
    campaign = live_campaign(price_model=Campaign.PriceModel.CPC, price=5_00)
    _view, click = _served()
    response = _click(client, click)
    assert response.status_code == 302
    assert response["Location"] == campaign.creatives.get().target_url
    again = _click(client, click)
    assert again.status_code == 302  # the back button still works
    row = _row(campaign)
    assert (row.clicks, row.filtered_reused) == (1, 1)
    assert row.spend_milli == 5_00 * 1000


def test_the_redirect_never_leads_to_an_address_from_the_url(client):
    campaign = live_campaign()
    forged = signing.dumps(
        {"c": campaign.pk, "r": 999999, "p": "home", "v": "x", "n": "1"}, salt="other"
    )
    assert _click(client, forged).status_code == 404
    # Properly signed but naming a creative that does not exist: 404 too.
    token = make_token(
        campaign_id=campaign.pk,
        creative_id=999999,
        placement="home",
        viewer="",
        salt=CLICK_SALT,
    )
    assert _click(client, token).status_code == 404
    response = client.get("/go/https%3A%2F%2Fevil.example", HTTP_USER_AGENT=BROWSER)
    assert response.status_code == 404


def test_repeated_clicks_by_one_viewer_within_30_minutes_count_once(client):
    campaign = live_campaign(price_model=Campaign.PriceModel.CPC, price=5_00)
    clicks = [_served()[1] for _ in range(3)]
    for token in clicks:
        assert _click(client, token).status_code == 302
    row = _row(campaign)
    assert (row.clicks, row.filtered_repeat) == (1, 2)
    # The memory of that click lasts 30 minutes, then the next one counts.
    store = serving.get_store()
    viewer = signing.loads(clicks[0], salt=CLICK_SALT)["v"]
    key = f"clicked:{viewer}:{campaign.pk}"
    assert 29 * 60 < store.ttl(key) <= 30 * 60
    store.delete(key)
    assert _click(client, _served()[1]).status_code == 302
    assert _row(campaign).clicks == 2


def test_bots_prefetches_staff_and_the_advertiser_are_filtered_not_charged(
    client, staff
):
    campaign = live_campaign(price_model=Campaign.PriceModel.CPC, price=5_00)
    view, click = _served()
    _click(client, click, HTTP_SEC_PURPOSE="prefetch")
    _beacon(
        client,
        view,
        agent="Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    )
    _click(client, click, agent="curl/8.5.0")
    client.force_login(staff)
    _click(client, click)
    client.force_login(campaign.advertiser.user)
    _click(client, click)
    client.logout()
    row = _row(campaign)
    assert row.clicks == 0 and row.viewable == 0 and row.spend_milli == 0
    assert (row.filtered_prefetch, row.filtered_bot, row.filtered_internal) == (1, 2, 2)
    # After all that, the real person's click still counts: nothing used it up.
    assert _click(client, click).status_code == 302
    assert _row(campaign).clicks == 1


def test_someone_elses_token_is_filtered(client):
    campaign = live_campaign()
    view, _click_token = _served()
    response = client.post(
        reverse("ads:seen"),
        {"token": view},
        HTTP_USER_AGENT=BROWSER,
        REMOTE_ADDR="198.51.100.77",  # another person than the one served
    )
    assert response.json()["counted"] is False
    row = _row(campaign)
    assert (row.viewable, row.filtered_reused) == (0, 1)


def test_the_beacon_only_takes_post(client):
    live_campaign()
    view, _click_token = _served()
    assert client.get(reverse("ads:seen"), {"token": view}).status_code == 405


def test_counts_live_in_redis_and_survive_a_web_process_restart(client):
    if not os.environ.get("REDIS_URL"):
        pytest.skip("Needs REDIS_URL: without Redis counts live in the process.")
    campaign = live_campaign()
    view, _click_token = _served()
    _beacon(client, view)
    # A restarted process: no store, counting backend or index in memory.
    reset_store()
    counting.reset_backend()
    serving.index_forget_locally()
    row = _row(campaign)
    assert (row.served, row.viewable) == (1, 1)


def test_no_address_or_user_agent_is_kept_anywhere(client):
    if not os.environ.get("REDIS_URL"):
        pytest.skip("Needs REDIS_URL to read back every stored key.")
    campaign = live_campaign(price_model=Campaign.PriceModel.CPC, price=5_00)
    view, click = _served()
    _beacon(client, view)
    _click(client, click)
    store = serving.get_store()
    keys = list(store.client.scan_iter(match="*"))
    values = []
    for key in keys:
        kind = store.client.type(key)
        if kind == b"string":
            values.append(store.client.get(key) or b"")
        elif kind == b"hash":
            values += [k + v for k, v in store.client.hgetall(key).items()]
    blob = b" ".join(keys + values)
    assert ADDRESS.encode() not in blob
    assert b"Android 14" not in blob
    assert campaign


def test_tokens_name_campaign_creative_and_placement():
    campaign = live_campaign()
    view, click = _served()
    data = signing.loads(click, salt=CLICK_SALT)
    assert (data["c"], data["r"], data["p"]) == (
        campaign.pk,
        campaign.creatives.get().pk,
        "home",
    )
    assert signing.loads(view, salt=VIEW_SALT)["n"] != data["n"]
