import csv
import io
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from ads import services
from ads.models import MILLI, Advertiser, Campaign, DailyStat
from ads.tests.factories import (
    BROWSER,
    AdvertiserFactory,
    CampaignFactory,
    add_creative,
    funded,
)
from listings.tests.factories import ListingFactory, locality, photo_bytes

pytestmark = pytest.mark.django_db


def _campaign_data(**changes):
    start = timezone.localtime() + timedelta(hours=1)
    data = {
        "name": "Spring furniture",
        "placements": ["search", "listing"],
        "localities": [locality("thamel").pk],
        "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
        "ends_at": (start + timedelta(days=14)).strftime("%Y-%m-%dT%H:%M"),
        "total_budget": "5000",
        "daily_budget": "500",
        "price_model": "cpm",
        "price": "150",
        "frequency_cap": "4",
    }
    data.update(changes)
    return data


def test_anyone_becomes_an_advertiser_with_a_business_name_contact_and_phone(
    client, tenant
):
    client.force_login(tenant)
    response = client.post(
        reverse("ads:join"),
        {
            "business_name": "Momo Corner",
            "contact_name": "Asha",
            "phone": "98-4123 4567",
        },
    )
    assert response.status_code == 302
    advertiser = Advertiser.objects.get(user=tenant)
    assert advertiser.phone == "+9779841234567"
    bad = client.post(
        reverse("ads:join"),
        {"business_name": "", "contact_name": "Asha", "phone": "12345", "pan": "12"},
    )
    assert bad.status_code == 400
    for field in ("business_name", "phone", "pan"):
        assert field in bad.context["form"].errors


def test_an_advertiser_creates_a_campaign_in_rupees_kept_as_paisa(client):
    advertiser = AdvertiserFactory()
    client.force_login(advertiser.user)
    response = client.post(reverse("ads:create"), _campaign_data())
    campaign = Campaign.objects.get(advertiser=advertiser)
    assert response["Location"] == reverse("ads:creatives", args=[campaign.pk])
    assert campaign.status == Campaign.Status.DRAFT
    assert (campaign.total_budget, campaign.daily_budget, campaign.price) == (
        5_000_00,
        500_00,
        150_00,
    )
    assert list(campaign.localities.values_list("slug", flat=True)) == ["thamel"]


def test_campaign_form_errors_say_what_to_fix(client):
    advertiser = AdvertiserFactory()
    client.force_login(advertiser.user)
    response = client.post(
        reverse("ads:create"),
        _campaign_data(
            placements=[], daily_budget="9000", rent_min="30000", rent_max="100"
        ),
    )
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert {"placements", "daily_budget", "rent_max"} <= set(errors)
    assert not Campaign.objects.exists()


def test_a_creative_upload_shows_previews_of_each_placement(client):
    campaign = CampaignFactory(
        status=Campaign.Status.DRAFT, placements=["search", "home"]
    )
    client.force_login(campaign.advertiser.user)
    response = client.post(
        reverse("ads:creatives", args=[campaign.pk]),
        {
            "headline": "Furnish your room in a week",
            "text": "Beds, tables and curtains, delivered and fitted.",
            "target_url": "https://furnish.example.np/",
            "display_domain": "https://Furnish.example.np/",
            "alt_text": "A bright furnished room",
            "image": SimpleUploadedFile("room.jpg", photo_bytes(), "image/jpeg"),
        },
    )
    assert response.status_code == 302
    creative = campaign.creatives.get()
    assert creative.display_domain == "furnish.example.np"
    page = client.get(reverse("ads:creatives", args=[campaign.pk]))
    assert page.content.count(b'class="ad-card"') == 2  # phone and desktop
    assert page.content.count(b'class="ad-banner"') == 2
    assert b"preview-frame--phone" in page.content
    assert b"data-ad-view" not in page.content  # previews count nothing
    assert b"js/ads-preview.js" in page.content


@pytest.mark.parametrize(
    "url",
    [
        "http://furnish.example.np/",
        "javascript:alert(1)",
        "data:text/html,hi",
        "https://127.0.0.1/accounts/login/",
    ],
)
def test_a_creative_link_must_be_https_to_another_site(client, url):
    campaign = CampaignFactory(status=Campaign.Status.DRAFT)
    client.force_login(campaign.advertiser.user)
    response = client.post(
        reverse("ads:creatives", args=[campaign.pk]),
        {
            "headline": "Hello",
            "text": "Text",
            "target_url": url,
            "display_domain": "furnish.example.np",
            "alt_text": "x",
            "image": SimpleUploadedFile("room.jpg", photo_bytes(), "image/jpeg"),
        },
    )
    assert response.status_code == 400
    assert "target_url" in response.context["form"].errors
    assert not campaign.creatives.exists()


def test_a_creative_that_is_too_long_or_not_a_picture_is_refused(client):
    campaign = CampaignFactory(status=Campaign.Status.DRAFT)
    client.force_login(campaign.advertiser.user)
    response = client.post(
        reverse("ads:creatives", args=[campaign.pk]),
        {
            "headline": "x" * 61,
            "text": "y" * 141,
            "target_url": "https://furnish.example.np/",
            "display_domain": "furnish.example.np",
            "alt_text": "x",
            "image": SimpleUploadedFile("room.jpg", b"not a picture", "image/jpeg"),
        },
    )
    assert response.status_code == 400
    assert {"headline", "text", "image"} <= set(response.context["form"].errors)


def test_submit_pause_resume_and_duplicate_from_the_dashboard(client):
    campaign = CampaignFactory(status=Campaign.Status.DRAFT)
    add_creative(campaign)
    client.force_login(campaign.advertiser.user)
    client.post(reverse("ads:action", args=[campaign.pk, "submit"]))
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.REVIEW
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.RUNNING)
    client.post(reverse("ads:action", args=[campaign.pk, "pause"]))
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.PAUSED
    client.post(reverse("ads:action", args=[campaign.pk, "resume"]))
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.RUNNING
    response = client.post(reverse("ads:action", args=[campaign.pk, "duplicate"]))
    copy = Campaign.objects.exclude(pk=campaign.pk).get()
    assert response["Location"] == reverse("ads:edit", args=[copy.pk])
    assert (
        client.post(reverse("ads:action", args=[campaign.pk, "explode"])).status_code
        == 404
    )
    bad = client.post(reverse("ads:action", args=[campaign.pk, "submit"]), follow=True)
    assert b"cannot be submitted" in bad.content


def test_an_approved_campaign_cannot_be_edited(client):
    campaign = CampaignFactory()
    client.force_login(campaign.advertiser.user)
    response = client.post(reverse("ads:edit", args=[campaign.pk]), _campaign_data())
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.name != "Spring furniture"


def test_the_dashboard_shows_numbers_chart_table_pacing_and_csv(client):
    campaign = CampaignFactory()
    creative = add_creative(campaign)
    today = timezone.localdate()
    for days_ago, (served, viewable, clicks) in enumerate([(120, 80, 4), (60, 40, 1)]):
        DailyStat.objects.create(
            day=today - timedelta(days=days_ago),
            campaign=campaign,
            creative=creative,
            placement="search",
            served=served,
            viewable=viewable,
            clicks=clicks,
            filtered_bot=7,
            spend_milli=viewable * campaign.price,
        )
    client.force_login(campaign.advertiser.user)
    response = client.get(campaign.get_absolute_url())
    html = response.content.decode()
    assert "<svg" in html and "Served and viewable impressions" in html
    assert '<table class="data-table">' in html
    assert 'data-total="viewable">120<' in html
    assert 'data-total="clicks">5<' in html
    assert "Rs. 24" in html  # 120 impressions at Rs. 200 per thousand
    assert "Pacing against the plan" in html
    exported = client.get(reverse("ads:csv", args=[campaign.pk]))
    rows = list(csv.reader(io.StringIO(exported.content.decode())))
    assert rows[0][:4] == ["day", "served", "viewable", "clicks"]
    assert rows[-1][:4] == [today.isoformat(), "120", "80", "4"]
    assert rows[-1][4] == "5.00"  # CTR in percent
    assert rows[-1][6] == "7"


def test_another_advertisers_campaign_does_not_exist_here(client):
    campaign = CampaignFactory()
    intruder = AdvertiserFactory()
    client.force_login(intruder.user)
    for name in ("campaign", "edit", "creatives", "csv"):
        assert client.get(reverse(f"ads:{name}", args=[campaign.pk])).status_code == 404
    assert (
        client.post(reverse("ads:action", args=[campaign.pk, "pause"])).status_code
        == 404
    )
    home = client.get(reverse("ads:home"))
    assert campaign.name.encode() not in home.content


def test_a_receipt_is_printable_with_vat_and_the_site_pan(client, settings):
    settings.SITE_PAN = "609876543"
    advertiser = AdvertiserFactory(pan="601234567")
    entry = services.ledger_topup(
        advertiser=advertiser, paid=11_300_00, reference="NIC 7"
    )
    client.force_login(advertiser.user)
    response = client.get(reverse("ads:receipt", args=[entry.pk]))
    html = response.content.decode()
    assert "609876543" in html and "601234567" in html
    assert "VAT 13 %" in html
    assert "Rs. 10,000" in html and "Rs. 1,300" in html and "Rs. 11,300" in html
    statement = client.get(reverse("ads:balance"))
    assert reverse("ads:receipt", args=[entry.pk]).encode() in statement.content


def test_an_owner_boosts_a_listing_from_the_promote_page(client, owner):
    listing = ListingFactory(owner=owner)
    client.force_login(owner)
    page = client.get(reverse("ads:boost", args=[listing.pk]))
    assert b"Set up my business account" in page.content
    funded(AdvertiserFactory(user=owner), 2_000)
    response = client.post(reverse("ads:boost", args=[listing.pk]), {"days": "5"})
    assert response.status_code == 302
    assert listing.boosts.get().days == 5
    too_long = client.post(reverse("ads:boost", args=[listing.pk]), {"days": "31"})
    assert too_long.status_code == 400
    mine = client.get(reverse("listings:mine"))
    assert reverse("ads:boost", args=[listing.pk]).encode() in mine.content


# --- Staff ---------------------------------------------------------------------------


def test_staff_review_shows_the_preview_and_policy_warnings_and_approves(
    client, staff, mailbox, django_capture_on_commit_callbacks
):
    campaign = CampaignFactory(status=Campaign.Status.REVIEW, name="Best broker deals")
    add_creative(campaign, headline="No commission broker")
    client.force_login(staff)
    queue = client.get(
        reverse("admin:ads_campaign_changelist") + "?status__exact=review"
    )
    assert campaign.name.encode() in queue.content
    url = reverse("admin:ads_campaign_review", args=[campaign.pk])
    page = client.get(url)
    assert b'class="ad-card"' in page.content
    assert b"No broker or agent services" in page.content
    assert "“broker”".encode() in page.content  # the warning
    refused = client.post(url, {"approve": "1"})
    assert refused.status_code == 200  # the policy box must be ticked
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.REVIEW
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {"approve": "1", "policy_checked": "on"})
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.RUNNING
    assert campaign.reviewed_by == staff
    assert "approved" in mailbox[-1].subject


def test_staff_reject_with_a_reason_that_is_emailed(
    client, staff, mailbox, django_capture_on_commit_callbacks
):
    campaign = CampaignFactory(status=Campaign.Status.REVIEW)
    add_creative(campaign)
    client.force_login(staff)
    url = reverse("admin:ads_campaign_review", args=[campaign.pk])
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            url, {"reject": "1", "reason": "Pay-first offers break the policy."}
        )
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.REJECTED
    assert "Pay-first offers break the policy." in mailbox[-1].body


def test_staff_pause_any_campaign_and_record_top_ups(client, staff):
    campaign = CampaignFactory()
    client.force_login(staff)
    client.post(
        reverse("admin:ads_campaign_changelist"),
        {"action": "pause_campaigns", "_selected_action": [campaign.pk]},
    )
    campaign.refresh_from_db()
    assert campaign.pause_reason == Campaign.PauseReason.STAFF
    advertiser = campaign.advertiser
    response = client.post(
        reverse("admin:ads_advertiser_topup", args=[advertiser.pk]),
        {"paid": "1130", "reference": "eSewa 88"},
    )
    assert response.status_code == 302
    assert advertiser.balance == 1_000_00
    entry = advertiser.ledger.get()
    assert entry.created_by == staff and entry.vat == 130_00
    change = client.get(reverse("admin:ads_ledgerentry_change", args=[entry.pk]))
    assert b'name="_save"' not in change.content  # read only


def test_staff_see_revenue_by_day_and_placement(client, staff):
    campaign = CampaignFactory()
    creative = add_creative(campaign)
    DailyStat.objects.create(
        day=timezone.localdate(),
        campaign=campaign,
        creative=creative,
        placement="search",
        spend_milli=1_234_00 * MILLI,
    )
    client.force_login(staff)
    changelist = client.get(reverse("admin:ads_campaign_changelist"))
    assert reverse("admin:ads_campaign_revenue").encode() in changelist.content
    response = client.get(reverse("admin:ads_campaign_revenue"))
    assert response.status_code == 200
    assert b"Card in search results" in response.content
    assert b"Rs. 1,234" in response.content


def test_the_policy_page_is_public_and_linked_from_the_footer(client):
    response = client.get(reverse("ads:policy"))
    assert b"No broker or agent services" in response.content
    assert reverse("ads:policy").encode() in client.get("/").content


def test_business_pages_work_with_words_blockers_match(client):
    advertiser = AdvertiserFactory()
    client.force_login(advertiser.user)
    html = client.get(reverse("ads:home"), HTTP_USER_AGENT=BROWSER).content.decode()
    assert "css/advertiser.css" in html
    assert "/ads/" not in html and "css/ads.css" not in html
