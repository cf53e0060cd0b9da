"""
A saved search is the search page's query string kept under a name, with the
alerts the person chose. Its own small app rather than part of listings: it
reads listings through `listings.search` like the search page does, and owns
its alerts, emails and schedule, which listings knows nothing about.
"""

import datetime as dt
from urllib.parse import parse_qsl, urlencode

from django.conf import settings
from django.core import signing
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

UNSUBSCRIBE_SALT = "searches.unsubscribe"
# Parameters of the search page that are not part of what is searched.
NOT_SEARCHED = {"page", "csrfmiddlewaretoken", "name", "frequency", "view"}


def clean_query(query: str) -> str:
    """The search page's query string without paging, sorted, blanks dropped."""
    pairs = [
        (k, v.strip())
        for k, v in parse_qsl(query.lstrip("?"), keep_blank_values=False)
        if k not in NOT_SEARCHED and v.strip()
    ]
    return urlencode(sorted(pairs))[:1000]


class SavedSearchQuerySet(models.QuerySet):
    def for_user(self, user):
        return self.filter(user=user)

    def due(self, now: dt.datetime):
        """Searches with alerts on whose period has passed since the last check."""
        due = models.Q()
        for frequency, period in SavedSearch.PERIODS.items():
            due |= models.Q(frequency=frequency, checked_until__lte=now - period)
        return self.filter(due).exclude(email=False, notify=False)


class SavedSearch(models.Model):
    class Frequency(models.TextChoices):
        INSTANT = "instant", _("As soon as a place is listed")
        DAILY = "daily", _("Once a day")
        WEEKLY = "weekly", _("Once a week")
        OFF = "off", _("No alerts")

    # How long after one check the next one is due; instant alerts go out on
    # every run of the alert command (every few minutes).
    PERIODS = {
        Frequency.INSTANT: dt.timedelta(0),
        Frequency.DAILY: dt.timedelta(days=1),
        Frequency.WEEKLY: dt.timedelta(days=7),
    }
    MAX_PER_USER = 20

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="saved_searches",
        verbose_name=_("user"),
    )
    name = models.CharField(_("name"), max_length=80)
    query = models.CharField(_("search"), max_length=1000, blank=True)
    # The query's filters as the search page reads them (searches.matching),
    # parsed once when saved so an alert run parses nothing.
    criteria = models.JSONField(_("filters"), default=dict, editable=False)
    frequency = models.CharField(
        _("alerts"), max_length=10, choices=Frequency, default=Frequency.DAILY
    )
    email = models.BooleanField(_("by email"), default=True)
    notify = models.BooleanField(_("in my notifications"), default=True)
    # Listings published up to this moment have been looked at for alerts.
    checked_until = models.DateTimeField(_("checked until"), default=timezone.now)
    last_alert_at = models.DateTimeField(_("last alert"), null=True, blank=True)
    created_at = models.DateTimeField(_("saved"), default=timezone.now)

    objects = SavedSearchQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("saved search")
        verbose_name_plural = _("saved searches")
        indexes = [
            models.Index(
                fields=["frequency", "checked_until"],
                name="savedsearch_due",
                condition=~models.Q(frequency="off"),
            )
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("listings:search") + (f"?{self.query}" if self.query else "")

    def is_due(self, now: dt.datetime) -> bool:
        """What SavedSearchQuerySet.due selects, for one search in hand."""
        period = self.PERIODS.get(self.frequency)
        return (
            period is not None
            and (self.email or self.notify)
            and self.checked_until <= now - period
        )

    @property
    def alerts_on(self) -> bool:
        return self.frequency != self.Frequency.OFF and (self.email or self.notify)

    def unsubscribe_token(self) -> str:
        # Signed, not timed: the link in an old email keeps working.
        return signing.Signer(salt=UNSUBSCRIBE_SALT).sign(str(self.pk))

    def unsubscribe_url(self) -> str:
        return reverse("searches:unsubscribe", args=[self.unsubscribe_token()])

    @classmethod
    def from_token(cls, token: str):
        """The saved search a signed unsubscribe token names, or None."""
        try:
            pk = int(signing.Signer(salt=UNSUBSCRIBE_SALT).unsign(token))
        except (signing.BadSignature, ValueError):
            return None
        return cls.objects.filter(pk=pk).select_related("user").first()
