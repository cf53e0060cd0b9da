import io
from datetime import timedelta

import factory
from django.utils import timezone
from django.utils.text import slugify
from PIL import Image

from accounts.models import User
from accounts.tests.factories import UserFactory
from listings.localities import DEVANAGARI, LOCALITIES
from listings.models import Listing, Locality


def locality(slug: str = "thamel") -> Locality:
    """
    A locality loaded by migration; recreated from the same data when a
    transactional test's flush emptied the table.
    """
    existing = Locality.objects.filter(slug=slug).first()
    if existing:
        return existing
    for name, district, lat, lng, aliases in LOCALITIES:
        if slugify(name) == slug:
            return Locality.objects.create(
                name=name,
                slug=slug,
                district=district,
                latitude=lat,
                longitude=lng,
                aliases=", ".join(a for a in (aliases, DEVANAGARI[name]) if a),
            )
    raise ValueError(f"No locality {slug!r} in the valley's list.")


class ListingFactory(factory.django.DjangoModelFactory):
    """A published flat in Thamel by a verified owner; pass status=... for others."""

    class Meta:
        model = Listing

    owner = factory.SubFactory(UserFactory, role=User.Role.OWNER, email_verified=True)
    status = Listing.Status.PUBLISHED
    title = factory.Sequence(lambda n: f"Sunny 2BHK flat number {n}")
    description = "Bright rooms, water every morning, a quiet lane near the chowk."
    property_type = Listing.PropertyType.FLAT
    locality = factory.LazyFunction(locality)
    rent = 25_000
    deposit = 50_000
    bedrooms = 2
    bathrooms = 1
    bike_parking = 1
    car_parking = 0
    water_source = Listing.WaterSource.MUNICIPAL
    water_hours = 6
    electricity_billing = Listing.ElectricityBilling.SUBMETER
    published_at = factory.LazyAttribute(
        lambda o: timezone.now() if o.status == Listing.Status.PUBLISHED else None
    )
    expires_at = factory.LazyAttribute(
        lambda o: o.published_at + timedelta(days=60) if o.published_at else None
    )


def photo_bytes(
    fmt: str = "JPEG", size: tuple[int, int] = (640, 480), color="teal", **save
) -> bytes:
    """A small real image in the given format."""
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format=fmt, **save)
    return out.getvalue()
