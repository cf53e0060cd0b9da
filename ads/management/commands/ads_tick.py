from django.core.management.base import BaseCommand

from ads.services import tick


class Command(BaseCommand):
    help = (
        "Every minute: moves the ads' counts from Redis into daily rows (exactly "
        "once), starts and ends campaigns, settles boosts, rebuilds the index."
    )

    def handle(self, *args, **options):
        result = tick()
        self.stdout.write(
            "Ads: {flushed} count batch(es) flushed, {campaigns} campaign(s) moved "
            "on, {boosts} boost(s) ended.".format(**result)
        )
