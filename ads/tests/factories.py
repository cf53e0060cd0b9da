from datetime import timedelta

import factory
from django.test import RequestFactory
from django.utils import timezone

from accounts.tests.factories import UserFactory
from ads import services
from ads.models import Advertiser, Campaign, Creative
from listings.tests.factories import photo_bytes

BROWSER = (
    "Mozilla/5.0 (Linux; Android 14; SM-A155F) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36"
)


class AdvertiserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Advertiser

    user = factory.SubFactory(UserFactory)
    business_name = factory.Sequence(lambda n: f"Valley Business {n}")
    contact_name = "Pemba Sherpa"
    phone = "+9779801000010"


class CampaignFactory(factory.django.DjangoModelFactory):
    """A running, untargeted campaign in every placement, paid per thousand views."""

    class Meta:
        model = Campaign
        skip_postgeneration_save = True

    advertiser = factory.SubFactory(AdvertiserFactory)
    name = factory.Sequence(lambda n: f"Campaign {n}")
    placements = factory.LazyFunction(lambda: ["home", "search", "listing", "inbox"])
    starts_at = factory.LazyFunction(lambda: timezone.now() - timedelta(hours=1))
    ends_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=30))
    total_budget = 100_000 * 100
    daily_budget = 10_000 * 100
    price_model = Campaign.PriceModel.CPM
    price = 200 * 100
    frequency_cap = 5
    status = Campaign.Status.RUNNING


class _Form:
    def __init__(self, instance):
        self.instance = instance

    def save(self, commit=True):
        return self.instance


def add_creative(campaign: Campaign, **fields) -> Creative:
    """A creative with real renditions, added through the service."""
    status = campaign.status
    if not campaign.is_editable:
        Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.DRAFT)
        campaign.status = Campaign.Status.DRAFT
    values = {
        "headline": "Furnish your new room",
        "text": "Bed, table and wardrobe delivered in a week.",
        "target_url": "https://furnish.example.np/new",
        "display_domain": "furnish.example.np",
        "alt_text": "A furnished room",
        **fields,
    }
    creative = services.creative_add(
        campaign=campaign, form=_Form(Creative(**values)), image=photo_bytes()
    )
    Campaign.objects.filter(pk=campaign.pk).update(status=status)
    campaign.status = status
    return creative


def funded(advertiser: Advertiser, rupees: int = 100_000) -> Advertiser:
    """Credits `rupees` (before VAT) to the advertiser's balance."""
    services.ledger_topup(
        advertiser=advertiser,
        paid=round(rupees * 100 * 113 / 100),
        reference=f"test-{advertiser.pk}",
    )
    return advertiser


def live_campaign(**kwargs) -> Campaign:
    """A running campaign with one creative and money behind it, in the index."""
    from ads.serving import index_rebuild

    campaign = CampaignFactory(**kwargs)
    add_creative(campaign)
    funded(campaign.advertiser)
    index_rebuild()
    return campaign


def page_request(user=None, agent=BROWSER, address="203.0.113.9", path="/", **extra):
    from django.contrib.auth.models import AnonymousUser

    request = RequestFactory().get(
        path, HTTP_USER_AGENT=agent, REMOTE_ADDR=address, **extra
    )
    request.user = user or AnonymousUser()
    return request


def post_request(data, user=None, agent=BROWSER, address="203.0.113.9", **extra):
    from django.contrib.auth.models import AnonymousUser

    request = RequestFactory().post(
        "/go/seen", data, HTTP_USER_AGENT=agent, REMOTE_ADDR=address, **extra
    )
    request.user = user or AnonymousUser()
    return request
