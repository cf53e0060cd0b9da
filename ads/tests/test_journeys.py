"""The ads business in a real browser, from sign-up to the advertiser's numbers."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.tests.factories import UserFactory
from ads import services
from ads.models import Advertiser, Campaign
from ads.tests.factories import AdvertiserFactory, funded
from listings.models import Listing
from listings.tests.factories import ListingFactory, locality, photo_bytes
from nobroker import counting

SHOP = "https://furnish.example.np/"
PHONE = (
    "Mozilla/5.0 (Linux; Android 14; SM-A155F) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36"
)


def _shop(route):
    route.fulfill(status=200, content_type="text/html", body="<h1>Furnish shop</h1>")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_an_advertiser_campaign_from_sign_up_to_a_counted_click(
    browser, live_server, login_as, password, tmp_path
):
    thamel, patan = locality("thamel"), locality("patan")
    ListingFactory.create_batch(9, locality=thamel)
    ListingFactory.create_batch(9, locality=patan)
    staff = UserFactory(is_staff=True, is_superuser=True, email="staff@example.np")
    tenant = UserFactory(email="tenant@example.np")
    picture = tmp_path / "sofa.jpg"
    picture.write_bytes(photo_bytes("JPEG", (1200, 900)))

    # An advertiser signs up, becomes an advertiser and makes a campaign.
    advertiser_page = browser.new_page(viewport={"width": 390, "height": 844})
    advertiser_page.goto(f"{live_server.url}/accounts/signup/")
    advertiser_page.get_by_label("Full name").fill("Asha Tamang")
    advertiser_page.get_by_label("Email address").fill("asha@furnish.example.np")
    advertiser_page.locator("#id_password1").fill(password)
    advertiser_page.locator("#id_password2").fill(password)
    advertiser_page.get_by_role("button", name="Sign up").click()
    advertiser_page.goto(f"{live_server.url}/business/")
    advertiser_page.get_by_label("Business name").fill("Kathmandu Furnishers")
    advertiser_page.get_by_label("Contact person").fill("Asha Tamang")
    advertiser_page.get_by_label("Contact phone").fill("9841234567")
    advertiser_page.get_by_role("button", name="Create my business account").click()
    expect(
        advertiser_page.get_by_text("Your business account is ready.")
    ).to_be_visible()
    advertiser = Advertiser.objects.get(user__email="asha@furnish.example.np")
    funded(advertiser, 1_000)  # staff record the bank transfer

    advertiser_page.get_by_role("link", name="New campaign").click()
    advertiser_page.get_by_label("Campaign name").fill("Sofas for Thamel")
    advertiser_page.get_by_label("Card in search results").check()
    advertiser_page.get_by_label("Localities").select_option(label="Thamel")
    start = timezone.localtime() - timedelta(minutes=5)
    advertiser_page.get_by_label("Starts (Nepal time)").fill(
        start.strftime("%Y-%m-%dT%H:%M")
    )
    advertiser_page.get_by_label("Ends (Nepal time)").fill(
        (start + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M")
    )
    advertiser_page.get_by_label("Total budget (Rs.)").fill("500")
    advertiser_page.get_by_label("Daily budget (Rs.)").fill("240")
    advertiser_page.get_by_label("Per click").check()
    advertiser_page.get_by_label("Price (Rs.)").fill("5")
    advertiser_page.get_by_role("button", name="Save and add creatives").click()
    expect(advertiser_page.get_by_text("Campaign saved as a draft")).to_be_visible()

    advertiser_page.get_by_label("Headline").fill("A sofa for your new flat")
    advertiser_page.get_by_label("Text").fill(
        "Delivered and fitted in Thamel within a week."
    )
    advertiser_page.locator("#id_image").set_input_files(str(picture))
    advertiser_page.get_by_label("Picture description").fill("A grey three-seat sofa")
    advertiser_page.get_by_label("Link").fill(SHOP)
    advertiser_page.get_by_label("Domain shown").fill("furnish.example.np")
    # The live preview draws the ad as it is typed.
    expect(
        advertiser_page.locator("[data-live-preview] .ad-headline").first
    ).to_have_text("A sofa for your new flat")
    advertiser_page.get_by_role("button", name="Add creative").click()
    expect(advertiser_page.get_by_text("Creative added")).to_be_visible()
    expect(
        advertiser_page.locator(".previews .preview-frame--phone .ad-card")
    ).to_have_count(1)
    advertiser_page.get_by_role("button", name="Submit for review").click()
    expect(advertiser_page.get_by_text("Sent for review")).to_be_visible()
    campaign = Campaign.objects.get(name="Sofas for Thamel")
    assert campaign.status == Campaign.Status.REVIEW

    # Staff approve it in the admin's review queue.
    staff_page = browser.new_page()
    login_as(staff_page, staff)
    staff_page.goto(f"{live_server.url}/admin/ads/campaign/?status__exact=review")
    staff_page.get_by_role("link", name="Review", exact=True).click()
    expect(staff_page.locator(".ad-card").first).to_be_visible()
    staff_page.get_by_label("I checked every creative against the ads policy.").check()
    staff_page.get_by_role("button", name="Approve").click()
    expect(staff_page.get_by_text("Approved: the campaign is live.")).to_be_visible()
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.RUNNING

    # A tenant searching Thamel sees the labelled ad; one searching Patan does not.
    # Headless Chromium says so in its user agent, and bots are not counted:
    # the tenant's browser is an ordinary phone's.
    page = browser.new_page(viewport={"width": 390, "height": 844}, user_agent=PHONE)
    page.route(f"{SHOP}**", _shop)
    login_as(page, tenant)
    page.goto(f"{live_server.url}/rent/?locality=patan")
    expect(page.locator(".listing-card").first).to_be_visible()
    expect(page.locator(".ad-card")).to_have_count(0)
    page.goto(f"{live_server.url}/rent/?locality=thamel")
    ad = page.locator(".ad-card")
    expect(ad).to_have_count(1)
    expect(ad.locator(".ad-label")).to_have_text("Sponsored")
    expect(ad.locator(".ad-headline")).to_have_text("A sofa for your new flat")

    # It stays on screen a second: one viewable impression is counted.
    with page.expect_response(lambda r: "/go/seen" in r.url, timeout=10_000) as seen:
        ad.scroll_into_view_if_needed()
    assert seen.value.json() == {"counted": True, "as": "viewable"}

    # The click goes through the redirect to the advertiser's site.
    ad.locator("a").click()
    page.wait_for_url(f"{SHOP}**")
    expect(page.get_by_text("Furnish shop")).to_be_visible()

    # The minute's flush, then the advertiser's dashboard has the numbers.
    counting.flush()
    advertiser_page.goto(f"{live_server.url}{campaign.get_absolute_url()}")
    expect(advertiser_page.locator('[data-total="viewable"]')).to_have_text("1")
    expect(advertiser_page.locator('[data-total="clicks"]')).to_have_text("1")
    expect(advertiser_page.locator('[data-total="spend"]')).to_have_text("Rs. 5")
    expect(advertiser_page.locator("svg.chart__svg")).to_be_visible()
    assert advertiser.balance == 1_000_00 - 5_00


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_an_owner_boosts_a_listing_and_finds_it_labelled_at_the_top(
    page, live_server, login_as
):
    jhamsikhel = locality("jhamsikhel")
    ListingFactory.create_batch(12, locality=jhamsikhel, rent=20_000)
    owner = UserFactory(role="owner", email="owner@example.np")
    funded(AdvertiserFactory(user=owner), 2_000)
    mine = ListingFactory(
        owner=owner, locality=jhamsikhel, rent=30_000, title="Terrace flat by the owner"
    )
    Listing.objects.filter(pk=mine.pk).update(
        published_at=timezone.now() - timedelta(days=30)
    )  # far down the newest-first results

    login_as(page, owner)
    page.goto(f"{live_server.url}/rent/mine/")
    page.get_by_role("link", name="Boost").click()
    page.get_by_label("Days").fill("7")
    page.get_by_role("button", name="Boost it").click()
    expect(page.get_by_text("Boosted: it now shows at the top")).to_be_visible()
    assert mine.boosts.get().days == 7
    assert owner.advertiser.balance == 2_000_00 - 7 * services.BOOST_PRICE_PER_DAY

    page.goto(f"{live_server.url}/rent/?locality=jhamsikhel&rent_min=25000")
    first = page.locator(".card-grid > li").first
    expect(first).to_contain_text("Terrace flat by the owner")
    expect(first.locator(".ad-label")).to_have_text("Sponsored")
    page.goto(f"{live_server.url}/rent/?locality=jhamsikhel&rent_max=25000")
    expect(page.get_by_text("Boosted by the owner")).to_have_count(0)
