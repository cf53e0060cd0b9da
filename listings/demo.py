"""Realistic demo listings for the Kathmandu valley, used by `manage.py seed_demo`."""

import io
import random
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from PIL import Image, ImageDraw

from listings.cache import bump_version
from listings.models import AMENITIES, Listing, Locality
from listings.photos import encode_photo
from listings.services import LISTING_LIFETIME, photo_store

PHOTO_POOL = 24
PENDING = 6

PALETTES = [
    ((236, 228, 214), (150, 111, 80)),
    ((222, 232, 240), (120, 120, 125)),
    ((244, 238, 220), (170, 130, 90)),
    ((230, 240, 228), (110, 90, 70)),
    ((248, 236, 236), (140, 100, 90)),
    ((232, 230, 246), (100, 100, 110)),
]

TITLES = {
    "room": [
        "Single room near {loc} chowk",
        "Bright double room in {loc}",
        "Room with attached bathroom, {loc}",
        "Two rooms and kitchen in {loc}",
    ],
    "flat": [
        "{bhk}BHK flat in {loc} with balcony",
        "Sunny {bhk}BHK flat, {loc}",
        "{bhk}BHK flat near {loc} main road",
        "Quiet {bhk}BHK on the {floor} floor, {loc}",
    ],
    "apartment": [
        "{bhk}BHK apartment in {loc} with lift",
        "Furnished {bhk}BHK apartment, {loc}",
        "Modern {bhk}BHK apartment near {loc}",
    ],
    "house": [
        "Whole house with garden in {loc}",
        "{bhk}-bedroom house for a family, {loc}",
        "Two-storey house in {loc}, car parking",
    ],
    "shop": [
        "Shop space on the main road, {loc}",
        "Office space in {loc}, first floor",
        "Ground-floor shutter in {loc}",
    ],
}

SENTENCES = [
    "Water comes from the municipal line every morning and there is a boring as backup.",
    "The road is pitched up to the gate and a car can reach the door.",
    "Quiet neighbourhood, ten minutes' walk to the nearest microbus stop.",
    "The owner's family lives on the ground floor.",
    "Sunlight all day from the south-facing windows.",
    "A vegetable market and a pharmacy are two minutes away.",
    "Solar water heater on the roof; hot water even in winter.",
    "Terrace access for drying clothes.",
    "Built after 2015 with an earthquake-resistant frame.",
    "Internet providers already have a line in the building.",
    "Suitable for a small family or working couple.",
    "The electricity sub-meter is in the tenant's name.",
    "Rent is paid by the 7th of each month; a written agreement is made.",
    "Students from the nearby campus have rented here before.",
]

RENT_RANGES = {
    "room": (5_000, 15_000),
    "flat": (15_000, 60_000),
    "apartment": (35_000, 1_50_000),
    "house": (50_000, 3_00_000),
    "shop": (20_000, 2_00_000),
}
FLOORS = ["ground", "first", "second", "third"]


def draw_photo(rng: random.Random, label: str) -> bytes:
    """A simple drawn room: wall, floor, window and door, as a JPEG upload."""
    wall, floor = rng.choice(PALETTES)
    image = Image.new("RGB", (1200, 900), wall)
    draw = ImageDraw.Draw(image)
    horizon = rng.randint(560, 650)
    draw.rectangle((0, horizon, 1200, 900), fill=floor)
    for x in range(0, 1200, 80):
        draw.line((x, horizon, x - 200, 900), fill=tuple(c - 15 for c in floor))
    wx = rng.randint(120, 640)
    draw.rectangle(
        (wx, 140, wx + 360, 440), fill=(170, 210, 240), outline=(90, 70, 50), width=14
    )
    draw.line((wx + 180, 140, wx + 180, 440), fill=(90, 70, 50), width=10)
    draw.line((wx, 290, wx + 360, 290), fill=(90, 70, 50), width=10)
    draw.ellipse((wx + 250, 170, wx + 320, 240), fill=(250, 236, 170))
    dx = 920 if wx < 500 else 80
    draw.rectangle(
        (dx, 250, dx + 190, horizon), fill=(120, 80, 50), outline=(70, 50, 30), width=8
    )
    draw.ellipse((dx + 150, 420, dx + 168, 438), fill=(220, 190, 90))
    draw.text((40, 40), label, fill=(60, 60, 60))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85)
    return out.getvalue()


def _listing(rng: random.Random, owner, locality, now) -> Listing:
    kind = rng.choices(list(RENT_RANGES), weights=[30, 35, 15, 12, 8])[0]
    low, high = RENT_RANGES[kind]
    rent = round(rng.randint(low, high), -3 if high > 20_000 else -2)
    bedrooms = {"room": rng.choice([1, 1, 2]), "shop": 0}.get(kind, rng.randint(1, 4))
    title = rng.choice(TITLES[kind]).format(
        loc=locality.name, bhk=max(bedrooms, 1), floor=rng.choice(FLOORS)
    )
    billing = rng.choice(["submeter", "submeter", "owner_rate", "included"])
    published = now - timedelta(days=rng.randint(0, 50), minutes=rng.randint(0, 1440))
    return Listing(
        owner=owner,
        status=Listing.Status.PUBLISHED,
        title=title,
        slug=Listing.slug_for(title),
        description="\n\n".join(
            [" ".join(rng.sample(SENTENCES, 3)), " ".join(rng.sample(SENTENCES, 2))]
        ),
        property_type=kind,
        locality=locality,
        street=rng.choice(["", "Ward 4", "Ward 10", "Near the temple", "Main road"]),
        landmark=rng.choice(
            ["", "Opposite the school", "Behind the bank", "Near the chowk"]
        ),
        rent=rent,
        deposit=rent * rng.choice([0, 1, 2, 3]),
        negotiable=rng.random() < 0.4,
        bedrooms=bedrooms,
        bathrooms=max(1, bedrooms // 2 + rng.randint(0, 1)) if kind != "room" else 1,
        bathroom_type=rng.choice(["attached", "shared"])
        if kind == "room"
        else "attached",
        kitchen=kind != "shop",
        living_room=kind in ("flat", "apartment", "house") and rng.random() < 0.8,
        floor=rng.randint(0, 4),
        furnishing=rng.choice(["unfurnished", "unfurnished", "semi", "full"]),
        bike_parking=rng.randint(0, 3),
        car_parking=rng.choice([0, 0, 1, 1, 2]),
        water_source=rng.choice(["municipal", "boring", "tanker", "mixed", "mixed"]),
        water_hours=rng.choice([2, 3, 4, 6, 8, 12, 24]),
        electricity_billing=billing,
        electricity_rate=rng.choice([12, 13, 15, 18])
        if billing == "owner_rate"
        else None,
        road_width_feet=rng.choice([None, 8, 10, 12, 14, 20]),
        road_surface=rng.choice(["", "pitched", "pitched", "gravel", "dirt"]),
        internet=rng.random() < 0.7,
        amenities=rng.sample([a for a, _label in AMENITIES], rng.randint(0, 4)),
        preferred_tenants=rng.choice(
            ["anyone", "anyone", "family", "professionals", "students"]
        ),
        pets_allowed=rng.random() < 0.3,
        non_veg_allowed=rng.random() < 0.8,
        minimum_stay_months=rng.choice([0, 3, 6, 12]),
        available_from=(now + timedelta(days=rng.randint(-10, 45))).date(),
        created_at=published - timedelta(hours=2),
        published_at=published,
        expires_at=published + LISTING_LIFETIME,
    )


@transaction.atomic
def seed_listings(*, owners: list, count: int, seed: int = 2026) -> int:
    """Creates demo listings with drawn photos, unless the demo owners have them."""
    if Listing.objects.filter(owner__in=owners).exists():
        return 0
    rng = random.Random(seed)
    now = timezone.now()
    localities = list(Locality.objects.all())
    pool = [
        encode_photo(draw_photo(rng, f"Photo {i + 1}"), f"demo-{i}.jpg")
        for i in range(PHOTO_POOL)
    ]
    listings = [
        _listing(rng, owners[i % len(owners)], localities[i % len(localities)], now)
        for i in range(count)
    ]
    for listing in listings[:PENDING]:
        listing.status = Listing.Status.PENDING
        listing.published_at = listing.expires_at = None
    listings = Listing.objects.bulk_create(listings)
    for listing in listings:
        for position in range(rng.randint(1, 3)):
            photo_store(listing=listing, encoded=rng.choice(pool), position=position)
    bump_version()
    return len(listings)


def seed_history(*, days: int = 90, seed: int = 2026) -> int:
    """
    Some past for the demo listings, so the owners' charts and the rent index
    are not empty: daily numbers over the last `days` days, and earlier rents
    (the same places let before, at rents near today's). Only where a listing
    has no history yet; returns the listings given one.
    """
    from listings.models import ListingDay, ListingRent

    rng = random.Random(seed)
    today = timezone.localdate()
    listings = list(
        Listing.objects.filter(owner__email__endswith="@demo.np", days__isnull=True)
        .exclude(published_at=None)
        .order_by("pk")
    )
    rows, rents = [], []
    for listing in listings:
        popularity = rng.uniform(0.3, 3.0)
        # Demo places have been on the site for a while: up to `days` days.
        start = today - timedelta(days=rng.randint(days // 3, days - 1))
        if listing.published_at.date() > start:
            listing.published_at = timezone.make_aware(
                timezone.datetime.combine(start, timezone.datetime.min.time())
            ) + timedelta(hours=rng.randint(8, 18))
            Listing.objects.filter(pk=listing.pk).update(
                published_at=listing.published_at,
                created_at=listing.published_at - timedelta(hours=2),
            )
        for offset in range((today - start).days):
            day = start + timedelta(days=offset)
            weekend = 1.4 if day.weekday() in (4, 5) else 1.0
            views = int(rng.expovariate(1 / (6 * popularity * weekend)))
            unique = max(0, views - rng.randint(0, max(1, views // 3)))
            appearances = views * rng.randint(3, 8)
            contacts = sum(rng.random() < 0.08 for _ in range(views))
            requests = sum(rng.random() < 0.4 for _ in range(contacts))
            rows.append(
                ListingDay(
                    listing=listing,
                    day=day,
                    views=views,
                    unique_viewers=unique,
                    search_appearances=appearances,
                    shortlists=sum(rng.random() < 0.1 for _ in range(views)),
                    contacts=contacts,
                    visit_requests=requests,
                    visits_done=sum(rng.random() < 0.6 for _ in range(requests)),
                )
            )
        for months_ago in rng.sample(range(1, 12), 4):
            at = timezone.now() - timedelta(days=30 * months_ago + rng.randint(0, 20))
            earlier = round(listing.rent * rng.uniform(0.85, 1.05), -2)
            rents.append(ListingRent(listing=listing, rent=earlier, at=at))
        rents.append(
            ListingRent(listing=listing, rent=listing.rent, at=listing.published_at)
        )
    ListingDay.objects.bulk_create(rows, batch_size=2000)
    ListingRent.objects.bulk_create(rents, batch_size=2000)
    return len(listings)
