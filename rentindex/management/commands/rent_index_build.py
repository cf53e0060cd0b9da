from django.core.management.base import BaseCommand

from rentindex.services import rent_index_build


class Command(BaseCommand):
    help = (
        "Rebuilds the public rent index (median rents per locality and type for "
        "the last 12 months) from the listings and their rent changes. Run it "
        "nightly (cron: 30 1 * * * python manage.py rent_index_build); each run "
        "replaces every figure, so running it twice changes nothing."
    )

    def handle(self, *args, **options):
        result = rent_index_build()
        self.stdout.write(
            f"Built {result.figures} figures ({result.published} published) from "
            f"{result.rents} rents in {result.seconds:.1f} s."
        )
