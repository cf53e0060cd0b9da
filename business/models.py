from django.db import models
from django.utils.translation import gettext_lazy as _


class BusinessDay(models.Model):
    """
    The whole site's figures for one day (local date), rolled up nightly by
    `manage.py business_rollup` from the rows each app keeps.
    """

    day = models.DateField(_("day"), unique=True)
    signups_tenant = models.PositiveIntegerField(_("tenant sign-ups"), default=0)
    signups_owner = models.PositiveIntegerField(_("owner sign-ups"), default=0)
    signups_verified = models.PositiveIntegerField(
        _("sign-ups with a verified email"), default=0
    )
    listings_new = models.PositiveIntegerField(_("new listings"), default=0)
    listings_published = models.PositiveIntegerField(_("listings published"), default=0)
    listings_rented = models.PositiveIntegerField(_("listings rented"), default=0)
    visit_requests = models.PositiveIntegerField(_("visit requests"), default=0)
    visits_done = models.PositiveIntegerField(_("visits done"), default=0)
    messages = models.PositiveIntegerField(_("messages sent"), default=0)
    built_at = models.DateTimeField(_("built"), auto_now=True)

    class Meta:
        ordering = ["day"]

    def __str__(self):
        return str(self.day)


class ActiveUsers(models.Model):
    """People who did something that left a record (a sign-up, a listing, a
    shortlist, a visit request, a message) in one day, week or month."""

    class Period(models.TextChoices):
        DAY = "day", _("Day")
        WEEK = "week", _("Week")
        MONTH = "month", _("Month")

    period = models.CharField(_("period"), max_length=5, choices=Period)
    start = models.DateField(_("starting"))
    users = models.PositiveIntegerField(_("active users"), default=0)

    class Meta:
        ordering = ["period", "start"]
        constraints = [
            models.UniqueConstraint(
                fields=["period", "start"], name="active_users_once"
            )
        ]

    def __str__(self):
        return f"{self.period} from {self.start}: {self.users}"
