import datetime as dt

from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import User
from listings.demo import seed_listings

DEMO_PASSWORD = "kathmandu123"  # noqa: S105 - published demo login
DEMO_USERS = [
    # email, full name, role, phone, staff
    ("admin@demo.np", "Sita Staff", User.Role.TENANT, "", True),
    ("owner@demo.np", "Ram Shrestha", User.Role.OWNER, "+9779841000001", False),
    ("owner2@demo.np", "Gita Maharjan", User.Role.OWNER, "+9779851000002", False),
    ("tenant@demo.np", "Anish Karki", User.Role.TENANT, "+9779861000003", False),
]
# More owners, so the demo listings are not all one person's.
DEMO_OWNERS = [
    ("owner3@demo.np", "Hari Tamang", "+9779841000004"),
    ("owner4@demo.np", "Sarita Pradhan", "+9779841000005"),
    ("owner5@demo.np", "Bikash Joshi", "+9779841000006"),
    ("owner6@demo.np", "Laxmi Bajracharya", "+9779841000007"),
    ("owner7@demo.np", "Suman Gurung", "+9779841000008"),
    ("owner8@demo.np", "Nirmala Thapa", "+9779841000009"),
]
DEMO_LISTINGS = 200


class Command(BaseCommand):
    help = (
        "Loads demo accounts and about 200 demo listings with photos across the "
        "Kathmandu valley. Safe to run again: existing demo data is left as it is."
    )

    @transaction.atomic
    def handle(self, *args, **options):
        created = 0
        users = DEMO_USERS + [
            (email, name, User.Role.OWNER, phone, False)
            for email, name, phone in DEMO_OWNERS
        ]
        owners = []
        for email, name, role, phone, staff in users:
            user, was_created = User.objects.get_or_create(
                email=email,
                defaults={
                    "full_name": name,
                    "role": role,
                    "phone": phone,
                    "email_verified": True,
                    "is_staff": staff,
                    "is_superuser": staff,
                    "is_trusted_owner": role == User.Role.OWNER,
                },
            )
            if was_created:
                user.set_password(DEMO_PASSWORD)
                user.save(update_fields=["password"])
                created += 1
            if role == User.Role.OWNER:
                owners.append(user)
        self.stdout.write(
            f"Demo accounts: {created} created, {len(users) - created} already there."
        )
        listings = seed_listings(owners=owners, count=DEMO_LISTINGS)
        if listings:
            self.stdout.write(f"Demo listings: {listings} created with photos.")
        else:
            self.stdout.write("Demo listings: already there.")
        hours = seed_visiting_hours(owners)
        if hours:
            self.stdout.write(f"Demo visiting hours: set on {hours} listings.")
        from ads.demo import seed_ads

        self.stdout.write(seed_ads(owner=owners[0] if owners else None))


def seed_visiting_hours(owners) -> int:
    """
    Visiting hours on the demo owners' published listings that have none yet:
    Saturday mornings, and weekday evenings on every other listing.
    """
    from listings.models import Listing
    from visits.models import Availability, WeeklyWindow

    listings = (
        Listing.objects.published()
        .filter(owner__in=owners, availability__isnull=True)
        .order_by("pk")
    )
    saturday, weekdays = 5, range(5)
    count = 0
    for listing in listings:
        Availability.objects.create(
            listing=listing, instant_booking=listing.pk % 3 == 0
        )
        WeeklyWindow.objects.create(
            listing=listing,
            weekday=saturday,
            start_time=dt.time(10),
            end_time=dt.time(13),
        )
        if listing.pk % 2:
            WeeklyWindow.objects.bulk_create(
                WeeklyWindow(
                    listing=listing,
                    weekday=day,
                    start_time=dt.time(17),
                    end_time=dt.time(18, 30),
                )
                for day in weekdays
            )
        count += 1
    return count
