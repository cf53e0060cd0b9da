"""Every ads URL, classified by who may use it: a new route must be added here."""

import pytest
from django.urls import reverse

from ads import urls
from ads.models import Campaign
from ads.tests.factories import (
    BROWSER,
    AdvertiserFactory,
    CampaignFactory,
    add_creative,
    funded,
    live_campaign,
)
from listings.tests.factories import ListingFactory

pytestmark = pytest.mark.django_db

ROLES = (
    "anonymous",
    "tenant",
    "owner",
    "other owner",
    "advertiser",
    "other advertiser",
    "staff",
)
# For each URL name: the GET status for each role above. "login" is a redirect
# to the login page, "join" one to becoming an advertiser, 302 a redirect
# elsewhere, 405 a POST-only route.
MATRIX = {
    "seen": (405, 405, 405, 405, 405, 405, 405),
    "click": (302, 302, 302, 302, 302, 302, 302),
    "home": ("login", "join", "join", "join", 200, 200, "join"),
    "join": ("login", 200, 200, 200, 200, 200, 200),
    "policy": (200, 200, 200, 200, 200, 200, 200),
    "balance": ("login", "join", "join", "join", 200, 200, "join"),
    "receipt": ("login", 404, 404, 404, 200, 404, 404),
    "create": ("login", "join", "join", "join", 200, 200, "join"),
    "campaign": ("login", 404, 404, 404, 200, 404, 404),
    "edit": ("login", 404, 404, 404, 200, 404, 404),
    "creatives": ("login", 404, 404, 404, 200, 404, 404),
    "creative_delete": ("login", 405, 405, 405, 405, 405, 405),
    "csv": ("login", 404, 404, 404, 200, 404, 404),
    "action": ("login", 405, 405, 405, 405, 405, 405),
    "boost": ("login", 404, 200, 404, 404, 404, 404),
}


def test_every_ads_url_is_classified():
    assert {p.name for p in urls.urlpatterns} == set(MATRIX)


@pytest.mark.parametrize("name", sorted(MATRIX))
def test_url_answers_each_role_as_classified(
    client, name, tenant, owner, other_owner, staff
):
    advertiser = funded(AdvertiserFactory())
    other_advertiser = AdvertiserFactory()
    draft = CampaignFactory(advertiser=advertiser, status=Campaign.Status.DRAFT)
    creative = add_creative(draft)
    running = live_campaign(advertiser=advertiser)
    listing = ListingFactory(owner=owner)
    from ads.serving import Slot, serve
    from ads.tests.factories import page_request

    ad = serve(page_request(), Slot("home"))[0]
    click_token = ad.split('href="/go/', 1)[1].split('"', 1)[0]
    topup = advertiser.ledger.filter(kind="topup").first()
    args = {
        "click": [click_token],
        "receipt": [topup.pk],
        "campaign": [draft.pk],
        "edit": [draft.pk],
        "creatives": [draft.pk],
        "creative_delete": [draft.pk, creative.pk],
        "csv": [running.pk],
        "action": [draft.pk, "submit"],
        "boost": [listing.pk],
    }.get(name, [])
    url = reverse(f"ads:{name}", args=args)
    users = (
        None,
        tenant,
        owner,
        other_owner,
        advertiser.user,
        other_advertiser.user,
        staff,
    )
    for role, user, expected in zip(ROLES, users, MATRIX[name], strict=True):
        client.logout()
        if user:
            client.force_login(user)
        response = client.get(url, HTTP_USER_AGENT=BROWSER)
        if expected == "login":
            assert response.status_code == 302, (name, role)
            assert response["Location"].startswith(reverse("accounts:login"))
        elif expected == "join":
            assert response.status_code == 302, (name, role)
            assert response["Location"] == reverse("ads:join"), (name, role)
        else:
            assert response.status_code == expected, (name, role)


def test_pages_people_use_avoid_words_blockers_block():
    for pattern in urls.urlpatterns:
        route = str(pattern.pattern)
        if pattern.name in {"seen", "click"}:
            assert route.startswith("go/")
            continue
        for word in ("ads/", "analytics", "banner", "sponsor", "advert"):
            assert word not in route, route
