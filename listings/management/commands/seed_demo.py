from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import User

DEMO_PASSWORD = "kathmandu123"  # noqa: S105 - published demo login
DEMO_USERS = [
    # email, full name, role, phone, staff
    ("admin@demo.np", "Sita Staff", User.Role.TENANT, "", True),
    ("owner@demo.np", "Ram Shrestha", User.Role.OWNER, "+9779841000001", False),
    ("owner2@demo.np", "Gita Maharjan", User.Role.OWNER, "+9779851000002", False),
    ("tenant@demo.np", "Anish Karki", User.Role.TENANT, "+9779861000003", False),
]


class Command(BaseCommand):
    help = "Loads demo accounts (and demo listings) for Kathmandu. Safe to run again."

    @transaction.atomic
    def handle(self, *args, **options):
        created = 0
        for email, name, role, phone, staff in DEMO_USERS:
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
        self.stdout.write(
            f"Demo accounts: {created} created, {len(DEMO_USERS) - created} already there."
        )
