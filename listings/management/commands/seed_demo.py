from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import User
from listings.demo import seed_history, seed_listings
from visits.demo import seed_visiting_hours

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
HISTORY_DAYS = 90


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
        history = seed_history(days=HISTORY_DAYS)
        if history:
            # The nightly rollups, so the charts, the dashboard and the rent
            # index show the history at once.
            call_command("listings_rollup", days=HISTORY_DAYS, stdout=self.stdout)
            call_command("business_rollup", days=HISTORY_DAYS, stdout=self.stdout)
            call_command("rent_index_build", stdout=self.stdout)
            self.stdout.write(
                f"Demo history: {HISTORY_DAYS} days on {history} listings."
            )
        saved = seed_saved_searches()
        if saved:
            self.stdout.write(f"Demo saved searches: {saved} for the demo tenant.")


def seed_saved_searches() -> int:
    """Two saved searches with alerts for the demo tenant, one typed in Nepali."""
    from searches.models import SavedSearch
    from searches.services import saved_search_create

    tenant = User.objects.filter(email="tenant@demo.np").first()
    if tenant is None or SavedSearch.objects.for_user(tenant).exists():
        return 0
    for name, query, frequency in (
        ("Flats in Baneshwor", "type=flat&locality=baneswor", "daily"),
        ("ललितपुरमा कोठा", "q=ललितपुरमा+कोठा", "instant"),
    ):
        saved_search_create(user=tenant, name=name, query=query, frequency=frequency)
    return 2
