import io
import random
import uuid
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, models
from django.utils import timezone

from accounts.models import User
from accounts.tests.factories import UserFactory
from listings.management.commands.seed_bulk import (
    BULK_EMAIL_DOMAIN,
    GENERATED,
    PerRow,
    RowMaker,
    bulk_listings,
    copy_columns,
)
from listings.models import Listing, Locality

pytestmark = pytest.mark.django_db

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="seed_bulk loads with PostgreSQL's COPY; run with DATABASE_URL=postgres://...",
)


def seed(*args, jobs=1):
    # One job loads on the test's own connection, inside its transaction.
    out = io.StringIO()
    call_command(
        "seed_bulk",
        *args,
        "--no-progress",
        f"--jobs={jobs}",
        stdout=out,
        stderr=io.StringIO(),
    )
    return out.getvalue()


@pytest.mark.skipif(
    connection.vendor == "postgresql", reason="checks the refusal on other databases"
)
def test_seed_bulk_refuses_without_postgresql():
    with pytest.raises(CommandError, match="needs PostgreSQL"):
        seed("--listings", "10")
    assert not Listing.objects.exists()


@postgres_only
def test_seed_bulk_loads_valid_listings_for_bulk_owners():
    seed("--listings", "300", "--owners", "7", "--batch", "120")

    listings = Listing.objects.select_related("owner", "locality")
    assert listings.count() == 300
    assert User.objects.filter(email__endswith=f"@{BULK_EMAIL_DOMAIN}").count() == 7
    for listing in listings[:50]:
        listing.full_clean()  # every value passes the model's own validation
        assert listing.owner.email.endswith(f"@{BULK_EMAIL_DOMAIN}")
        assert listing.owner.is_owner
        assert not listing.owner.has_usable_password()
    published = listings.filter(status=Listing.Status.PUBLISHED)
    assert published.count() > 200
    assert not published.filter(published_at__isnull=True).exists()
    assert listings.values("locality").distinct().count() > 10
    assert listings.values("property_type").distinct().count() == 5


@postgres_only
def test_seed_bulk_tops_up_to_the_asked_number_and_no_further():
    seed("--listings", "50", "--owners", "5")
    first_ids = set(bulk_listings().values_list("pk", flat=True))

    out = seed("--listings", "50", "--owners", "5")
    assert "nothing to add" in out
    assert bulk_listings().count() == 50

    seed("--listings", "80", "--owners", "5")
    assert bulk_listings().count() == 80
    assert first_ids <= set(bulk_listings().values_list("pk", flat=True))


@postgres_only
def test_seed_bulk_reset_removes_only_bulk_rows(owner):
    locality = Locality.objects.first()
    own = Listing.objects.create(
        owner=owner,
        title="Owner's own flat",
        description="Not bulk.",
        property_type=Listing.PropertyType.FLAT,
        locality=locality,
        rent=20000,
        bike_parking=1,
        car_parking=0,
        water_source=Listing.WaterSource.MUNICIPAL,
        water_hours=6,
        electricity_billing=Listing.ElectricityBilling.SUBMETER,
    )
    tenant = UserFactory(email="someone@example.np")
    seed("--listings", "40", "--owners", "3")

    seed("--listings", "10", "--owners", "2", "--reset")

    assert bulk_listings().count() == 10
    assert User.objects.filter(email__endswith=f"@{BULK_EMAIL_DOMAIN}").count() == 2
    assert Listing.objects.filter(pk=own.pk).exists()
    assert User.objects.filter(pk=tenant.pk).exists()


@postgres_only
def test_seed_bulk_with_the_same_seed_loads_the_same_listings():
    def titles():
        return list(bulk_listings().order_by("pk").values_list("title", "rent"))

    seed("--listings", "30", "--owners", "3", "--seed", "7")
    first = titles()
    seed("--listings", "30", "--owners", "3", "--seed", "7", "--reset")
    assert titles() == first
    seed("--listings", "30", "--owners", "3", "--seed", "8", "--reset")
    assert titles() != first


def test_seed_bulk_fills_every_column_of_the_listing_table():
    columns, _, defaults = copy_columns(connection)
    expected = {
        field.column
        for field in Listing._meta.concrete_fields
        if not field.primary_key and not getattr(field, "generated", False)
    }
    assert set(columns) == expected
    # The fields seed_bulk knows are generated per row, not copied as constants.
    assert {"title", "rent", "status"}.isdisjoint(defaults)


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_seed_bulk_loads_the_same_listings_with_several_jobs():
    def titles():
        return sorted(bulk_listings().values_list("title", "rent", "locality_id"))

    seed("--listings", "90", "--owners", "3", "--batch", "20")
    one_job = titles()
    seed("--listings", "90", "--owners", "3", "--batch", "20", "--reset", jobs=3)

    assert bulk_listings().count() == 90
    assert titles() == one_job


def test_fields_seed_bulk_does_not_know_get_their_defaults_per_row():
    token = models.UUIDField(default=uuid.uuid4)
    token.set_attributes_from_name("token")
    columns = ["title", "token", "rent", "label"]
    maker = RowMaker(
        rng=random.Random(1),
        localities=[
            {
                "id": 1,
                "slug": "thamel",
                "name": "Thamel",
                "latitude": Decimal("27.71530"),
                "longitude": Decimal("85.31230"),
            }
        ],
        owner_ids=[1, 2],
        now=timezone.now(),
        columns=columns,
        defaults={"token": PerRow(token, connection), "label": "standard"},
    )

    first, second = maker.row(), maker.row()

    assert len(first) == len(columns)
    assert " near Thamel " in first[0]
    assert first[1] != second[1]  # a callable default gives each row its own value
    assert first[3] == second[3] == "standard"
    assert "title" in GENERATED and "token" not in GENERATED
