import time
from datetime import timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone

from listings.stats import locality_days_rollup, similar_figures_build


class Command(BaseCommand):
    help = (
        "Sums the listings' daily numbers into one row per locality, property type "
        "and day, and rebuilds the similar listings' figures (30 and 90 days to "
        "yesterday) that owners' performance pages compare with. Run it nightly "
        "after flush_counts (cron: 5 1 * * * python manage.py listings_rollup); "
        "it rebuilds what it covers, so a re-run is harmless."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--days",
            type=int,
            default=2,
            help="Days to rebuild, ending today (default 2: yesterday and today).",
        )

    def handle(self, *args, days, **options):
        started = time.perf_counter()
        last = timezone.localdate()
        rows = locality_days_rollup(
            first=last - timedelta(days=max(1, days) - 1), last=last
        )
        figures = similar_figures_build(last=last - timedelta(days=1))
        self.stdout.write(
            f"Wrote {rows} locality rows and {figures} similar-listing figures in "
            f"{time.perf_counter() - started:.1f} s."
        )
