"""
The ads business: advertisers, their campaigns and creatives, owners' boosts,
the prepaid ledger (whole paisa, append-only) and the daily counts.
"""

from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q, Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import nepali_phone_validator
from ads.placements import PLACEMENTS

PAISA = 100
# Spend is counted in thousandths of a paisa: a price per thousand
# impressions in paisa is then exactly the price of one impression.
MILLI = 1000

pan_validator = RegexValidator(
    regex=r"^\d{9}$", message=_("A PAN is 9 digits, for example 601234567.")
)


def npr_to_paisa(value) -> int:
    return int(round(float(value) * PAISA))


class Advertiser(models.Model):
    """A business (or an owner boosting a listing) with a prepaid balance."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="advertiser",
        verbose_name=_("account"),
    )
    business_name = models.CharField(_("business name"), max_length=120)
    contact_name = models.CharField(_("contact person"), max_length=120)
    phone = models.CharField(
        _("contact phone"), max_length=14, validators=[nepali_phone_validator]
    )
    pan = models.CharField(
        _("PAN"),
        max_length=9,
        blank=True,
        validators=[pan_validator],
        help_text=_("Optional: your Permanent Account Number, printed on receipts."),
    )
    low_balance_notified_at = models.DateTimeField(
        _("low-balance email sent"), null=True, blank=True, editable=False
    )
    created_at = models.DateTimeField(_("joined"), default=timezone.now)

    class Meta:
        ordering = ["business_name"]

    def __str__(self):
        return self.business_name

    def get_absolute_url(self):
        return reverse("ads:home")

    @property
    def balance(self) -> int:
        """The balance in paisa: the sum of the ledger."""
        return LedgerEntry.objects.balance_of(self)


class CampaignQuerySet(models.QuerySet):
    def of(self, advertiser):
        return self.filter(advertiser=advertiser)

    def in_review(self):
        return self.filter(status=Campaign.Status.REVIEW)

    def servable(self):
        return self.filter(status=Campaign.Status.RUNNING)


class Campaign(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        REVIEW = "review", _("In review")
        APPROVED = "approved", _("Approved, waiting for its start")
        REJECTED = "rejected", _("Rejected")
        RUNNING = "running", _("Running")
        PAUSED = "paused", _("Paused")
        ENDED = "ended", _("Ended")

    class PriceModel(models.TextChoices):
        CPM = "cpm", _("Per thousand viewable impressions")
        CPC = "cpc", _("Per click")

    class PauseReason(models.TextChoices):
        NONE = "", _("Not paused")
        ADVERTISER = "advertiser", _("Paused by the advertiser")
        STAFF = "staff", _("Paused by staff")
        BALANCE = "balance", _("Balance ran out")

    advertiser = models.ForeignKey(
        Advertiser,
        on_delete=models.CASCADE,
        related_name="campaigns",
        verbose_name=_("advertiser"),
    )
    name = models.CharField(_("campaign name"), max_length=120)
    placements = models.JSONField(_("placements"), default=list)
    localities = models.ManyToManyField(
        "listings.Locality",
        blank=True,
        related_name="+",
        verbose_name=_("localities"),
        help_text=_("Leave empty to show everywhere."),
    )
    property_types = models.JSONField(_("property types"), default=list, blank=True)
    rent_min = models.PositiveIntegerField(_("rent from (NPR)"), null=True, blank=True)
    rent_max = models.PositiveIntegerField(_("rent up to (NPR)"), null=True, blank=True)
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))
    total_budget = models.PositiveBigIntegerField(_("total budget (paisa)"))
    daily_budget = models.PositiveBigIntegerField(_("daily budget (paisa)"))
    price_model = models.CharField(
        _("price model"), max_length=3, choices=PriceModel, default=PriceModel.CPM
    )
    price = models.PositiveBigIntegerField(
        _("price (paisa)"),
        help_text=_("Per thousand viewable impressions, or per click."),
    )
    frequency_cap = models.PositiveSmallIntegerField(
        _("times a day one viewer sees it"),
        default=5,
        validators=[MinValueValidator(1), MaxValueValidator(50)],
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status, default=Status.DRAFT
    )
    rejection_reason = models.TextField(_("reason for rejection"), blank=True)
    pause_reason = models.CharField(
        _("why paused"), max_length=10, choices=PauseReason, blank=True
    )
    ended_reason = models.CharField(_("why it ended"), max_length=120, blank=True)
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    reviewed_at = models.DateTimeField(_("reviewed"), null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("reviewed by"),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = CampaignQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "submitted_at"], name="ad_status")]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("ads:campaign", args=[self.pk])

    def clean(self):
        super().clean()
        errors = {}
        unknown = [p for p in self.placements or [] if p not in PLACEMENTS]
        if not self.placements or unknown:
            errors["placements"] = _("Choose at least one placement.")
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            errors["ends_at"] = _("The end must come after the start.")
        if (
            self.rent_min is not None
            and self.rent_max is not None
            and self.rent_max < self.rent_min
        ):
            errors["rent_max"] = _("The upper rent must be at least the lower one.")
        if self.daily_budget and self.total_budget:
            if self.daily_budget > self.total_budget:
                errors["daily_budget"] = _(
                    "The daily budget cannot be more than the total budget."
                )
            if self.price and self.unit_cost_milli > self.daily_budget * MILLI:
                errors["price"] = _(
                    "The daily budget must pay for at least one click or one "
                    "thousand impressions."
                )
        if errors:
            raise ValidationError(errors)

    @property
    def unit_cost_milli(self) -> int:
        """What one billed event costs, in thousandths of a paisa."""
        if self.price_model == self.PriceModel.CPC:
            return self.price * MILLI
        return self.price

    @property
    def is_editable(self) -> bool:
        return self.status in {self.Status.DRAFT, self.Status.REJECTED}

    @property
    def can_be_submitted(self) -> bool:
        return self.is_editable

    @property
    def can_be_paused(self) -> bool:
        return self.status in {self.Status.RUNNING, self.Status.APPROVED}

    @property
    def can_be_resumed(self) -> bool:
        return self.status == self.Status.PAUSED

    def placement_names(self) -> list[str]:
        return [str(PLACEMENTS[p].name) for p in self.placements if p in PLACEMENTS]


def creative_upload_to(instance, filename: str) -> str:
    import uuid

    # Random names; "creatives" rather than a word blockers match, so a
    # blocked ad leaves no broken-image box behind.
    return f"creatives/{uuid.uuid4().hex[:2]}/{uuid.uuid4().hex}.webp"


def validate_target_url(value: str) -> None:
    parts = urlsplit(value.strip())
    if parts.scheme != "https" or not parts.hostname:
        raise ValidationError(
            _("The link must start with https:// and name a website."),
            code="scheme",
        )
    site_hosts = {urlsplit(settings.SITE_URL).hostname, *settings.ALLOWED_HOSTS}
    if parts.hostname.lower() in {h.lower() for h in site_hosts if h}:
        raise ValidationError(
            _("The link must lead to your own website, not back into this site."),
            code="internal",
        )


class Creative(models.Model):
    """One ad: words, a picture cut to each placement's size, and a link."""

    campaign = models.ForeignKey(
        Campaign,
        on_delete=models.CASCADE,
        related_name="creatives",
        verbose_name=_("campaign"),
    )
    headline = models.CharField(_("headline"), max_length=60)
    text = models.CharField(_("text"), max_length=140)
    target_url = models.URLField(
        _("link"),
        max_length=500,
        validators=[validate_target_url],
        help_text=_("Where a click takes people: https:// only."),
    )
    display_domain = models.CharField(
        _("domain shown"),
        max_length=80,
        help_text=_("Shown under the ad, e.g. furniture.example.np."),
    )
    alt_text = models.CharField(_("picture description"), max_length=200)
    images = models.JSONField(_("image renditions"), default=dict, editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return self.headline

    def image_url(self, size: str) -> str:
        name = self.images.get(size)
        return default_storage.url(name) if name else ""

    def image_urls(self) -> dict[str, str]:
        return {size: default_storage.url(name) for size, name in self.images.items()}


class BoostQuerySet(models.QuerySet):
    def active(self):
        return self.filter(status=Boost.Status.ACTIVE)


class Boost(models.Model):
    """An owner paying to feature their own published listing for some days."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        ENDED = "ended", _("Ended")

    listing = models.ForeignKey(
        "listings.Listing",
        on_delete=models.CASCADE,
        related_name="boosts",
        verbose_name=_("listing"),
    )
    advertiser = models.ForeignKey(
        Advertiser,
        on_delete=models.PROTECT,
        related_name="boosts",
        verbose_name=_("paid by"),
    )
    days = models.PositiveSmallIntegerField(
        _("days"), validators=[MinValueValidator(1), MaxValueValidator(30)]
    )
    price_per_day = models.PositiveBigIntegerField(_("price per day (paisa)"))
    starts_at = models.DateTimeField(_("starts"), default=timezone.now)
    ends_at = models.DateTimeField(_("ends"))
    status = models.CharField(
        _("status"), max_length=10, choices=Status, default=Status.ACTIVE
    )
    ended_reason = models.CharField(_("why it ended"), max_length=120, blank=True)
    refunded_days = models.PositiveSmallIntegerField(_("days refunded"), default=0)

    objects = BoostQuerySet.as_manager()

    class Meta:
        ordering = ["-starts_at", "-id"]
        indexes = [models.Index(fields=["status", "ends_at"], name="boost_status")]

    def __str__(self):
        return f"Boost of {self.listing_id} for {self.days} days"


class LedgerQuerySet(models.QuerySet):
    def balance_of(self, advertiser) -> int:
        return self.filter(advertiser=advertiser).aggregate(s=Sum("amount"))["s"] or 0


class LedgerEntry(models.Model):
    """
    One movement of an advertiser's money, in paisa: positive is a credit,
    negative a debit. Rows are only ever added (a mistake is put right by
    an adjustment), so the balance is always the sum of the rows.
    """

    class Kind(models.TextChoices):
        TOPUP = "topup", _("Top-up")
        SPEND = "spend", _("Campaign spend")
        BOOST = "boost", _("Listing boost")
        REFUND = "refund", _("Refund")
        ADJUSTMENT = "adjustment", _("Adjustment by staff")

    advertiser = models.ForeignKey(
        Advertiser,
        on_delete=models.PROTECT,
        related_name="ledger",
        verbose_name=_("advertiser"),
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind)
    amount = models.BigIntegerField(_("amount (paisa)"))
    vat = models.BigIntegerField(_("VAT paid (paisa)"), default=0)
    day = models.DateField(_("day of spend"), null=True, blank=True)
    campaign = models.ForeignKey(
        Campaign,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="ledger",
        verbose_name=_("campaign"),
    )
    boost = models.ForeignKey(
        Boost,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="ledger",
        verbose_name=_("boost"),
    )
    reference = models.CharField(
        _("payment reference or reason"), max_length=200, blank=True
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("recorded by"),
    )
    created_at = models.DateTimeField(_("when"), default=timezone.now)

    objects = LedgerQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = _("ledger entries")
        indexes = [
            models.Index(fields=["advertiser", "-created_at"], name="ledger_adv"),
            models.Index(fields=["campaign", "day"], name="ledger_campaign_day"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(amount=0), name="ledger_amount_not_zero"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["topup", "refund"], amount__gt=0)
                | Q(kind__in=["spend", "boost"], amount__lt=0)
                | Q(kind="adjustment"),
                name="ledger_sign_matches_kind",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.amount}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise ValidationError("Ledger entries are never edited; add another.")
        super().save(*args, **kwargs)

    def get_absolute_url(self):
        return reverse("ads:receipt", args=[self.pk])

    def delete(self, *args, **kwargs):
        raise ValidationError("Ledger entries are never deleted.")

    @property
    def gross(self) -> int:
        return self.amount + self.vat


class DailyStat(models.Model):
    """The counts of one day (Nepal time) per campaign, creative and placement."""

    day = models.DateField(_("day"))
    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="stats"
    )
    creative = models.ForeignKey(
        Creative, on_delete=models.SET_NULL, null=True, related_name="stats"
    )
    placement = models.CharField(_("placement"), max_length=10)
    served = models.PositiveBigIntegerField(_("served"), default=0)
    viewable = models.PositiveBigIntegerField(_("viewable impressions"), default=0)
    clicks = models.PositiveBigIntegerField(_("clicks"), default=0)
    filtered_bot = models.PositiveBigIntegerField(_("bots"), default=0)
    filtered_prefetch = models.PositiveBigIntegerField(_("prefetch"), default=0)
    filtered_repeat = models.PositiveBigIntegerField(_("repeat clicks"), default=0)
    filtered_reused = models.PositiveBigIntegerField(_("reused tokens"), default=0)
    filtered_internal = models.PositiveBigIntegerField(
        _("staff and advertiser"), default=0
    )
    spend_milli = models.PositiveBigIntegerField(_("spend (1/1000 paisa)"), default=0)

    class Meta:
        ordering = ["day"]
        constraints = [
            models.UniqueConstraint(
                fields=["day", "campaign", "creative", "placement"],
                name="one_stat_row_per_day",
            )
        ]

    def __str__(self):
        return f"{self.day} {self.campaign_id}/{self.creative_id} {self.placement}"


COUNT_FIELDS = (
    "served",
    "viewable",
    "clicks",
    "filtered_bot",
    "filtered_prefetch",
    "filtered_repeat",
    "filtered_reused",
    "filtered_internal",
    "spend_milli",
)
FILTERED_FIELDS = tuple(f for f in COUNT_FIELDS if f.startswith("filtered_"))
