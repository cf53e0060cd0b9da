from django.core.management.base import BaseCommand

from accounts.services import users_flag_shared_phones
from listings import services


class Command(BaseCommand):
    help = (
        "Daily listing upkeep; run it once a day from the scheduler (for example "
        "cron: `15 3 * * * manage.py listings_expire`). It emails a reminder to "
        "owners whose published listing expires within 7 days, so they can press "
        "“Still available”; archives listings published more than 60 days ago "
        "without a confirmation (the owner is emailed and can relist in one "
        "click); and flags accounts that share one phone number. Safe to run "
        "more often: each reminder is sent once per 60-day period."
    )

    def handle(self, *args, **options):
        reminded = services.listings_send_expiry_reminders()
        expired = services.listings_expire()
        flagged = users_flag_shared_phones()
        self.stdout.write(
            f"Reminders sent: {reminded}. Listings archived: {expired}. "
            f"Accounts flagged for a shared phone: {flagged}."
        )
