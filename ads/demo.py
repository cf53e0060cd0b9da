"""Demo ads for `manage.py seed_demo`: an advertiser, campaigns and a boost."""

import io
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from PIL import Image, ImageDraw

from accounts.models import User
from ads import services
from ads.models import Advertiser, Boost, Campaign, Creative, LedgerEntry
from ads.serving import index_rebuild
from listings.models import Listing, Locality

ADVERTISER_EMAIL = "advertiser@demo.np"
DEMO_PASSWORD = "kathmandu123"  # noqa: S105 - published demo login

CAMPAIGNS = [
    # name, placements, locality slugs, colours, headline, text, domain
    (
        "Himalayan Movers – valley-wide",
        ["home", "inbox"],
        [],
        ((0, 56, 147), (255, 255, 255)),
        "Moving flat? Packed and moved in a day",
        "Careful packers, covered trucks, fixed prices across the valley. Call before 10 AM for same-day moves.",
        "movers.example.np",
        "https://movers.example.np/",
    ),
    (
        "Kathmandu Furnishers – Baneshwor and Thamel",
        ["search", "listing"],
        ["old-baneshwor", "new-baneshwor", "thamel"],
        ((200, 16, 46), (255, 244, 230)),
        "Furnish your new room from Rs. 15,000",
        "Bed, table, wardrobe and curtains delivered and fitted within a week of moving in.",
        "furnish.example.np",
        "https://furnish.example.np/new-home",
    ),
    (
        "FiberNet – internet in 24 hours",
        ["search", "listing", "inbox"],
        [],
        ((26, 127, 55), (240, 255, 240)),
        "New home? Internet connected in 24 hours",
        "100 Mbps fibre with free installation for new tenants. No deposit.",
        "fibernet.example.np",
        "https://fibernet.example.np/move",
    ),
]


def _picture(colours, words: str) -> bytes:
    background, ink = colours
    image = Image.new("RGB", (1600, 900), background)
    draw = ImageDraw.Draw(image)
    for i in range(0, 1600, 160):
        draw.rectangle([i, 700, i + 120, 820], fill=ink)
    draw.text((80, 120), words, fill=ink, font_size=96)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85)
    return out.getvalue()


class _Form:
    """Just enough of a ModelForm for the creative service."""

    def __init__(self, instance):
        self.instance = instance

    def save(self, commit=True):
        return self.instance


@transaction.atomic
def seed_ads(owner: User | None = None) -> str:
    """Adds the demo advertiser, three running campaigns and one boost, once."""
    if User.objects.filter(email=ADVERTISER_EMAIL).exists():
        return "Demo ads: already there."
    user = User.objects.create_user(
        email=ADVERTISER_EMAIL,
        password=DEMO_PASSWORD,
        full_name="Pemba Sherpa",
        email_verified=True,
        phone="+9779801000010",
    )
    advertiser = Advertiser.objects.create(
        user=user,
        business_name="Valley Home Services",
        contact_name="Pemba Sherpa",
        phone="+9779801000010",
        pan="601234567",
    )
    staff = User.objects.filter(is_staff=True).first()
    services.ledger_topup(
        advertiser=advertiser,
        paid=56_500 * 100,
        reference="Demo bank transfer NIC-0001",
        staff=staff,
    )
    now = timezone.now()
    for name, placements, slugs, colours, headline, text, domain, url in CAMPAIGNS:
        campaign = Campaign.objects.create(
            advertiser=advertiser,
            name=name,
            placements=placements,
            starts_at=now - timedelta(hours=1),
            ends_at=now + timedelta(days=60),
            total_budget=20_000 * 100,
            daily_budget=1_000 * 100,
            price_model=Campaign.PriceModel.CPM,
            price=150 * 100,
            frequency_cap=10,
        )
        campaign.localities.set(Locality.objects.filter(slug__in=slugs))
        services.creative_add(
            campaign=campaign,
            form=_Form(
                Creative(
                    headline=headline,
                    text=text,
                    target_url=url,
                    display_domain=domain,
                    alt_text=headline,
                )
            ),
            image=_picture(colours, domain),
        )
        campaign.status = Campaign.Status.RUNNING
        campaign.submitted_at = campaign.reviewed_at = now
        campaign.reviewed_by = staff
        campaign.save()
    boosted = ""
    if owner is not None:
        listing = Listing.objects.published().filter(owner=owner).order_by("pk").first()
        if listing is not None and not Boost.objects.filter(listing=listing).exists():
            owner_account, _created = Advertiser.objects.get_or_create(
                user=owner,
                defaults={
                    "business_name": owner.full_name,
                    "contact_name": owner.full_name,
                    "phone": owner.phone or "+9779841000001",
                },
            )
            if LedgerEntry.objects.balance_of(owner_account) < 5_000 * 100:
                services.ledger_topup(
                    advertiser=owner_account,
                    paid=5_650 * 100,
                    reference="Demo cash at the office",
                    staff=staff,
                )
            services.boost_buy(owner=owner, listing=listing, days=14)
            boosted = f" Boosted listing: “{listing.title}” ({listing.locality.name})."
    transaction.on_commit(index_rebuild)
    return (
        f"Demo ads: {ADVERTISER_EMAIL} with {len(CAMPAIGNS)} running campaigns."
        + boosted
    )
