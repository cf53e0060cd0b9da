from datetime import timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone

from business.services import business_rollup


class Command(BaseCommand):
    help = (
        "Rolls the site's figures (sign-ups, listings, visits, messages, active "
        "users) up into one row per day for the staff dashboard. Run it nightly "
        "after flush_counts and listings_rollup (cron: 15 1 * * * python manage.py "
        "business_rollup); it rebuilds the days it covers, so a re-run is harmless."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--days",
            type=int,
            default=2,
            help="Days to rebuild, ending today (default 2: yesterday and today).",
        )

    def handle(self, *args, days, **options):
        last = timezone.localdate()
        result = business_rollup(
            first=last - timedelta(days=max(1, days) - 1), last=last
        )
        self.stdout.write(f"Rolled up {result.days} days in {result.seconds:.1f} s.")
