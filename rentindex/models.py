from django.db import models
from django.utils.translation import gettext_lazy as _

from listings.models import Listing, Locality

# No figure is published where fewer listings than this stand behind it.
MIN_LISTINGS = 10


class RentFigureQuerySet(models.QuerySet):
    def headline(self):
        """The last twelve months as one figure per group."""
        return self.filter(month__isnull=True)

    def monthly(self):
        return self.filter(month__isnull=False)


class RentFigure(models.Model):
    """
    The monthly rents asked in one locality (or the whole valley, with no
    locality) for one property type (and number of bedrooms, for flats), over
    one month or, with no month, the last twelve. Rebuilt nightly by
    `manage.py rent_index_build`; the figures are empty where fewer than
    MIN_LISTINGS listings stand behind them.
    """

    locality = models.ForeignKey(
        Locality,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("locality"),
    )
    property_type = models.CharField(
        _("property type"), max_length=10, choices=Listing.PropertyType
    )
    bedrooms = models.PositiveSmallIntegerField(_("bedrooms"), null=True, blank=True)
    month = models.DateField(_("month"), null=True, blank=True)
    listings = models.PositiveIntegerField(_("listings"))
    median = models.PositiveIntegerField(_("median rent"), null=True, blank=True)
    lower_quartile = models.PositiveIntegerField(
        _("lower quartile"), null=True, blank=True
    )
    upper_quartile = models.PositiveIntegerField(
        _("upper quartile"), null=True, blank=True
    )
    built_at = models.DateTimeField(_("built"))

    objects = RentFigureQuerySet.as_manager()

    class Meta:
        ordering = ["locality", "property_type", "bedrooms", "month"]
        indexes = [
            models.Index(
                fields=["property_type", "locality", "bedrooms", "month"],
                name="rent_figure_lookup",
            )
        ]

    def __str__(self):
        return f"{self.locality_id} {self.property_type} {self.bedrooms} {self.month}"

    @property
    def is_published(self) -> bool:
        return self.median is not None
