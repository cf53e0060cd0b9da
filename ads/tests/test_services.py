import io
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.utils import timezone
from PIL import Image

from accounts.tests.factories import UserFactory
from ads import services
from ads.models import (
    MILLI,
    Boost,
    Campaign,
    DailyStat,
    LedgerEntry,
)
from ads.placements import IMAGE_SIZES
from ads.serving import EVENTS, SPEND
from ads.tests.factories import (
    AdvertiserFactory,
    CampaignFactory,
    add_creative,
    funded,
)
from listings import services as listing_services
from listings.tests.factories import ListingFactory, photo_bytes
from nobroker import counting

pytestmark = pytest.mark.django_db


# --- Money ---------------------------------------------------------------------------


def test_topup_credits_the_amount_before_vat_and_keeps_the_vat_for_the_receipt():
    advertiser = AdvertiserFactory()
    entry = services.ledger_topup(
        advertiser=advertiser, paid=11_300_00, reference="NIC 123"
    )
    assert entry.amount == 10_000_00
    assert entry.vat == 1_300_00
    assert advertiser.balance == 10_000_00


def test_a_topup_needs_an_amount_and_a_reference():
    advertiser = AdvertiserFactory()
    with pytest.raises(ValidationError):
        services.ledger_topup(advertiser=advertiser, paid=0, reference="x")
    with pytest.raises(ValidationError):
        services.ledger_topup(advertiser=advertiser, paid=100, reference=" ")
    assert advertiser.balance == 0


def test_ledger_rows_are_never_edited_or_deleted():
    advertiser = funded(AdvertiserFactory(), 500)
    entry = LedgerEntry.objects.get(advertiser=advertiser)
    entry.amount = 1
    with pytest.raises(ValidationError):
        entry.save()
    with pytest.raises(ValidationError):
        entry.delete()
    assert LedgerEntry.objects.get(pk=entry.pk).amount == 500_00


def test_a_staff_adjustment_needs_a_reason_and_never_makes_the_balance_negative(staff):
    advertiser = funded(AdvertiserFactory(), 100)
    with pytest.raises(ValidationError):
        services.ledger_adjust(
            advertiser=advertiser, amount=-50_00, reason="", staff=staff
        )
    with pytest.raises(ValidationError):
        services.ledger_adjust(
            advertiser=advertiser,
            amount=-100_01,
            reason="Refund by cheque",
            staff=staff,
        )
    services.ledger_adjust(
        advertiser=advertiser, amount=-40_00, reason="Refund by cheque", staff=staff
    )
    assert advertiser.balance == 60_00
    assert LedgerEntry.objects.filter(kind="adjustment").get().created_by == staff


# --- Campaign lifecycle --------------------------------------------------------------


def test_a_draft_goes_to_review_and_staff_approval_runs_it(
    staff, mailbox, django_capture_on_commit_callbacks
):
    campaign = CampaignFactory(status=Campaign.Status.DRAFT)
    with pytest.raises(ValidationError):
        services.campaign_submit(campaign=campaign)  # no creative yet
    add_creative(campaign)
    services.campaign_submit(campaign=campaign)
    assert campaign.status == Campaign.Status.REVIEW
    with django_capture_on_commit_callbacks(execute=True):
        services.campaign_approve(campaign=campaign, staff=staff)
    assert campaign.status == Campaign.Status.RUNNING
    assert "approved" in mailbox[-1].subject


def test_an_approved_campaign_waits_for_its_start(staff):
    campaign = CampaignFactory(
        status=Campaign.Status.REVIEW,
        starts_at=timezone.now() + timedelta(days=2),
        ends_at=timezone.now() + timedelta(days=9),
    )
    services.campaign_approve(campaign=campaign, staff=staff)
    assert campaign.status == Campaign.Status.APPROVED
    services.campaigns_advance(now=timezone.now() + timedelta(days=2, minutes=1))
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.RUNNING
    services.campaigns_advance(now=timezone.now() + timedelta(days=10))
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.ENDED


def test_rejection_needs_a_reason_which_is_emailed(
    staff, mailbox, django_capture_on_commit_callbacks
):
    campaign = CampaignFactory(status=Campaign.Status.REVIEW)
    with pytest.raises(ValidationError):
        services.campaign_reject(campaign=campaign, staff=staff, reason="  ")
    with django_capture_on_commit_callbacks(execute=True):
        services.campaign_reject(
            campaign=campaign, staff=staff, reason="Brokers may not advertise here."
        )
    assert campaign.status == Campaign.Status.REJECTED
    assert "Brokers may not advertise here." in mailbox[-1].body
    assert mailbox[-1].to == [campaign.advertiser.user.email]


def test_advertiser_pauses_and_resumes_but_cannot_resume_what_staff_paused():
    campaign = CampaignFactory()
    services.campaign_pause(campaign=campaign)
    services.campaign_resume(campaign=campaign)
    assert campaign.status == Campaign.Status.RUNNING
    services.campaign_pause(campaign=campaign, by_staff=True)
    with pytest.raises(ValidationError):
        services.campaign_resume(campaign=campaign)
    services.campaign_resume(campaign=campaign, by_staff=True)
    assert campaign.status == Campaign.Status.RUNNING


def test_a_campaign_ends_when_its_total_budget_cannot_pay_for_one_more_unit():
    campaign = CampaignFactory(total_budget=1_000_00, daily_budget=1_000_00)
    creative = add_creative(campaign)
    DailyStat.objects.create(
        day=timezone.localdate(),
        campaign=campaign,
        creative=creative,
        placement="search",
        spend_milli=1_000_00 * MILLI - campaign.unit_cost_milli + 1,
    )
    services.campaigns_advance()
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.ENDED
    assert campaign.ended_reason == "budget"


def test_duplicate_copies_settings_and_creatives_into_a_new_draft():
    campaign = CampaignFactory(rent_min=10_000, property_types=["flat"])
    creative = add_creative(campaign, headline="Fibre in a day")
    copy = services.campaign_duplicate(campaign=campaign)
    assert copy.status == Campaign.Status.DRAFT
    assert copy.rent_min == 10_000 and copy.property_types == ["flat"]
    copied = copy.creatives.get()
    assert copied.headline == "Fibre in a day"
    assert set(copied.images) == set(IMAGE_SIZES)
    assert copied.images["card"] != creative.images["card"]
    assert default_storage.exists(copied.images["card"])


def test_campaign_form_rules_are_checked_by_the_model():
    campaign = CampaignFactory.build(
        advertiser=AdvertiserFactory(),
        placements=["nowhere"],
        daily_budget=2_000_00,
        total_budget=1_000_00,
        rent_min=20_000,
        rent_max=10_000,
    )
    with pytest.raises(ValidationError) as error:
        campaign.full_clean()
    assert {"placements", "daily_budget", "rent_max"} <= set(error.value.message_dict)


# --- Creatives -----------------------------------------------------------------------


def test_creative_pictures_are_reencoded_without_exif_and_cut_to_each_size():
    exif = Image.Exif()
    exif[0x010F] = "SpyCam"  # camera make
    source = io.BytesIO()
    Image.new("RGB", (1200, 900), "orange").save(source, "JPEG", exif=exif.tobytes())
    renditions = services.creative_images(source.getvalue())
    for size, (width, height) in IMAGE_SIZES.items():
        image = Image.open(io.BytesIO(renditions[size]))
        assert image.format == "WEBP"
        assert image.size == (width, height)
        assert not image.getexif()


def test_a_creative_picture_that_is_not_an_image_is_refused():
    with pytest.raises(ValidationError):
        services.creative_images(b"GIF89a not really")
    with pytest.raises(ValidationError):
        services.creative_images(photo_bytes("GIF"))


def test_creatives_cannot_be_added_to_an_approved_campaign():
    campaign = CampaignFactory(status=Campaign.Status.RUNNING)
    from ads.tests.factories import _Form

    with pytest.raises(ValidationError):
        services.creative_add(
            campaign=campaign,
            form=_Form(campaign.creatives.model()),
            image=photo_bytes(),
        )


# --- Boosts --------------------------------------------------------------------------


def test_a_boost_is_paid_from_the_owner_balance(owner):
    listing = ListingFactory(owner=owner)
    funded(AdvertiserFactory(user=owner), 1_000)
    boost = services.boost_buy(owner=owner, listing=listing, days=3)
    assert boost.ends_at - boost.starts_at == timedelta(days=3)
    assert owner.advertiser.balance == 1_000_00 - 3 * services.BOOST_PRICE_PER_DAY
    with pytest.raises(ValidationError):
        services.boost_buy(owner=owner, listing=listing, days=3)  # already boosted


def test_a_boost_needs_the_balance_a_published_listing_and_its_owner(
    owner, other_owner
):
    listing = ListingFactory(owner=owner)
    AdvertiserFactory(user=owner)
    with pytest.raises(ValidationError):
        services.boost_buy(owner=owner, listing=listing, days=30)
    with pytest.raises(ValidationError):
        services.boost_buy(owner=other_owner, listing=listing, days=1)
    draft = ListingFactory(owner=owner, status="draft")
    with pytest.raises(ValidationError):
        services.boost_buy(owner=owner, listing=draft, days=1)
    assert not Boost.objects.exists()
    assert owner.advertiser.balance == 0


def test_a_boost_ends_early_with_unused_days_refunded_when_the_listing_is_rented(owner):
    listing = ListingFactory(owner=owner)
    funded(AdvertiserFactory(user=owner), 5_000)
    boost = services.boost_buy(owner=owner, listing=listing, days=10)
    listing_services.listing_mark_rented(listing=listing)
    services.boosts_settle(now=boost.starts_at + timedelta(days=2, hours=3))
    boost.refresh_from_db()
    assert boost.status == Boost.Status.ENDED
    assert boost.refunded_days == 7  # three days begun, seven never started
    refund = LedgerEntry.objects.get(kind="refund")
    assert refund.amount == 7 * services.BOOST_PRICE_PER_DAY
    assert owner.advertiser.balance == 5_000_00 - 3 * services.BOOST_PRICE_PER_DAY


def test_a_boost_whose_days_are_over_ends_without_refund(owner):
    listing = ListingFactory(owner=owner)
    funded(AdvertiserFactory(user=owner), 5_000)
    boost = services.boost_buy(owner=owner, listing=listing, days=2)
    services.boosts_settle(now=boost.ends_at + timedelta(minutes=1))
    boost.refresh_from_db()
    assert boost.status == Boost.Status.ENDED and boost.refunded_days == 0
    assert not LedgerEntry.objects.filter(kind="refund").exists()


# --- Counts into rows and money --------------------------------------------------------


def _count_spend(campaign, creative, milli, placement="search"):
    key = f"{campaign.pk}:{creative.pk}:{placement}"
    counting.count(SPEND, key, amount=milli)
    counting.count(EVENTS, f"{key}:viewable")


def test_the_flush_moves_counts_into_daily_rows_and_bills_whole_paisa():
    campaign = CampaignFactory()
    creative = add_creative(campaign)
    funded(campaign.advertiser, 1_000)
    _count_spend(campaign, creative, 2_500)  # 2.5 paisa
    counting.flush()
    row = DailyStat.objects.get(campaign=campaign)
    assert (row.viewable, row.spend_milli) == (1, 2_500)
    spend = LedgerEntry.objects.filter(kind="spend")
    assert [e.amount for e in spend] == [-2]
    _count_spend(campaign, creative, 600)  # 3.1 paisa counted in all
    counting.flush()
    assert sum(e.amount for e in spend.all()) == -3
    assert campaign.advertiser.balance == 1_000_00 - 3


def test_a_flush_that_runs_twice_counts_once():
    campaign = CampaignFactory()
    creative = add_creative(campaign)
    funded(campaign.advertiser, 1_000)
    _count_spend(campaign, creative, 20_000)
    counting.flush()
    counting.flush()
    row = DailyStat.objects.get(campaign=campaign)
    assert (row.viewable, row.spend_milli) == (1, 20_000)
    assert LedgerEntry.objects.filter(kind="spend").count() == 1


def test_running_out_of_balance_pauses_campaigns_and_emails_once(
    mailbox, django_capture_on_commit_callbacks, settings
):
    settings.ADS_LOW_BALANCE = 50_00
    campaign = CampaignFactory(price=100_00)  # 10 paisa an impression
    creative = add_creative(campaign)
    funded(campaign.advertiser, 60)
    with django_capture_on_commit_callbacks(execute=True):
        _count_spend(campaign, creative, 20_00 * MILLI)
        counting.flush()
    assert campaign.advertiser.balance == 40_00
    assert [m.subject for m in mailbox].count(
        "Your advertising balance is running low"
    ) == 1
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.RUNNING
    with django_capture_on_commit_callbacks(execute=True):
        _count_spend(campaign, creative, 45_00 * MILLI)  # more than is left
        counting.flush()
    assert campaign.advertiser.balance == 0  # never below zero
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.PAUSED
    assert campaign.pause_reason == Campaign.PauseReason.BALANCE
    assert len([m for m in mailbox if "low" in m.subject]) == 1
    funded(campaign.advertiser, 100)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.RUNNING


def test_advertiser_join_makes_an_account_for_anyone(tenant):
    from ads.forms import AdvertiserForm

    form = AdvertiserForm(
        {"business_name": "Momo Corner", "contact_name": "Asha", "phone": "9841234567"}
    )
    assert form.is_valid(), form.errors
    advertiser = services.advertiser_join(user=tenant, form=form)
    assert advertiser.phone == "+9779841234567"
    assert UserFactory._meta.model.objects.get(pk=tenant.pk).advertiser == advertiser
