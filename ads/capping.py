"""
The frequency cap of visitors not signed in, with nothing kept about them.

The browser counts what it was shown (the store counts it for signed-in
people only): choosing a page's ads then needs no trip to the store, one
person is not capped by the others behind a shared mobile address, and a
Do-Not-Track visitor, who has no viewer hash, is capped all the same. The
cookie is first-party and holds only
today's date in Nepal and, for each campaign served to them today, its id and
how many times. It holds no identifier (two visitors who saw the same ads
send the same cookie), the server stores nothing about it, and it expires at
the end of the day in Nepal, so nothing carries over to the next day. A
visitor who refuses cookies still never sees one campaign twice on a page.
"""

from datetime import datetime, time, timedelta

from django.conf import settings
from django.utils import timezone

COOKIE_NAME = "adcap"
# Campaigns a cookie remembers at most (the most recently served are kept);
# also bounds what a hand-made cookie can make this code read.
MAX_CAMPAIGNS = 32
MAX_COOKIE_LENGTH = 512


def _today() -> str:
    return timezone.localdate().strftime("%Y%m%d")


class CookieCap:
    """Today's counts of campaigns served to one visitor, read from their cookie."""

    def __init__(self, counts: dict[int, int] | None = None, day: str = ""):
        self.day = day or _today()
        self.counts: dict[int, int] = dict(counts or {})
        self.changed = False

    @classmethod
    def parse(cls, value: str) -> "CookieCap":
        """A cookie's counts; anything malformed or of another day counts as none."""
        today = _today()
        counts: dict[int, int] = {}
        parts = (value or "")[:MAX_COOKIE_LENGTH].split(".")
        if parts[0] == today:
            for part in parts[1 : MAX_CAMPAIGNS + 1]:
                campaign, _dash, n = part.partition("-")
                if campaign.isdigit() and n.isdigit() and len(n) <= 4:
                    counts[int(campaign)] = int(n)
        return cls(counts, today)

    @classmethod
    def from_request(cls, request) -> "CookieCap":
        return cls.parse(getattr(request, "COOKIES", {}).get(COOKIE_NAME, ""))

    def seen(self, campaign_id: int) -> int:
        return self.counts.get(campaign_id, 0)

    def add(self, campaign_id: int) -> None:
        # Re-inserted last: the most recently served are the ones kept.
        n = self.counts.pop(campaign_id, 0) + 1
        self.counts[campaign_id] = n
        while len(self.counts) > MAX_CAMPAIGNS:
            del self.counts[next(iter(self.counts))]
        self.changed = True

    def value(self) -> str:
        return ".".join(
            [self.day, *(f"{campaign}-{n}" for campaign, n in self.counts.items())]
        )


def seconds_left_today() -> int:
    """Until midnight in Nepal: the cookie is gone by the next day."""
    now = timezone.localtime()
    midnight = timezone.make_aware(
        datetime.combine(now.date() + timedelta(days=1), time.min),
        now.tzinfo,
    )
    return max(int((midnight - now).total_seconds()), 1)


class CookieCapMiddleware:
    """Writes the cap cookie of a response whose ads changed its counts."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        cap = getattr(request, "_ads_cookie_cap", None)
        if cap is not None and cap.changed:
            response.set_cookie(
                COOKIE_NAME,
                cap.value(),
                max_age=seconds_left_today(),
                secure=settings.SESSION_COOKIE_SECURE,
                httponly=True,
                samesite="Lax",
            )
        return response
