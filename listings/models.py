import uuid

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _


class LocalityQuerySet(models.QuerySet):
    def for_picker(self):
        return self.only("id", "name", "slug", "district").order_by("district", "name")


class Locality(models.Model):
    class District(models.TextChoices):
        KATHMANDU = "Kathmandu", _("Kathmandu")
        LALITPUR = "Lalitpur", _("Lalitpur")
        BHAKTAPUR = "Bhaktapur", _("Bhaktapur")

    name = models.CharField(_("name"), max_length=80, unique=True)
    slug = models.SlugField(_("slug"), max_length=80, unique=True)
    district = models.CharField(_("district"), max_length=20, choices=District)
    latitude = models.DecimalField(_("latitude"), max_digits=8, decimal_places=5)
    longitude = models.DecimalField(_("longitude"), max_digits=8, decimal_places=5)
    aliases = models.CharField(
        _("other spellings"),
        max_length=200,
        blank=True,
        help_text=_("Comma-separated spellings people type, e.g. 'Baneswor'."),
    )

    objects = LocalityQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name_plural = _("localities")

    def __str__(self):
        return self.name

    @property
    def alias_list(self) -> list[str]:
        return [a.strip() for a in self.aliases.split(",") if a.strip()]


AMENITIES = [
    ("balcony", _("Balcony")),
    ("terrace", _("Terrace access")),
    ("geyser", _("Water heater (geyser)")),
    ("solar", _("Solar water heater")),
    ("backup", _("Power backup")),
    ("cctv", _("CCTV")),
    ("guard", _("Security guard")),
    ("lift", _("Lift")),
    ("garden", _("Garden")),
]


# The columns the search form filters on, besides locality and the sort keys.
SEARCH_FILTER_COLUMNS = (
    "property_type",
    "rent",
    "bedrooms",
    "furnishing",
    "bike_parking",
    "car_parking",
    "water_hours",
    "preferred_tenants",
    "pets_allowed",
    "available_from",
)
SEARCH_FILTER_COLUMNS_BUT_BEDROOMS = tuple(
    column for column in SEARCH_FILTER_COLUMNS if column != "bedrooms"
)

# What a result card (listings.cards) reads from a listing, its locality and owner.
CARD_FIELDS = (
    "id",
    "slug",
    "title",
    "status",
    "rent",
    "negotiable",
    "property_type",
    "bedrooms",
    "water_hours",
    "bike_parking",
    "car_parking",
    "locality__id",
    "locality__name",
    "owner__id",
    "owner__email_verified",
)


class ListingQuerySet(models.QuerySet):
    def published(self):
        return self.filter(status=Listing.Status.PUBLISHED)

    def owned_by(self, user):
        return self.filter(owner=user)

    def in_localities(self, localities):
        return self.filter(locality__in=localities)

    def for_cards(self):
        """What a result card shows: locality, owner badge and the cover photo."""
        return self.select_related("locality", "owner").prefetch_related(
            models.Prefetch(
                "photos",
                queryset=ListingPhoto.objects.filter(is_cover=True),
                to_attr="cover_photos",
            )
        )

    def for_result_cards(self):
        """
        for_cards() loading only the columns a result card shows: the long
        description and the owner's account details stay in the database.
        """
        return self.for_cards().only(*CARD_FIELDS)

    def with_stats(self):
        """
        Annotates the numbers an owner sees on "My listings".

        Each app that counts something per listing adds its own annotation
        here (inquiries from messaging, visit requests from visits), keeping
        one subquery per number so the page stays at a fixed query count.
        """
        from django.apps import apps

        def count_of(model, **filters):
            return Coalesce(
                models.Subquery(
                    model.objects.filter(listing=models.OuterRef("pk"), **filters)
                    .order_by()
                    .values("listing")
                    .annotate(n=models.Count("pk"))
                    .values("n")
                ),
                0,
            )

        # Looked up by name: messaging and visits build on listings, not the reverse.
        conversation = apps.get_model("messaging", "Conversation")
        visit = apps.get_model("visits", "Visit")
        return self.annotate(
            shortlist_count=count_of(Shortlist),
            inquiry_count=count_of(conversation),
            visit_count=count_of(visit),
            pending_visit_count=count_of(visit, status="pending"),
        )

    def expiring_before(self, moment):
        return self.published().filter(expires_at__lte=moment)


class Listing(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PENDING = "pending", _("Pending review")
        PUBLISHED = "published", _("Published")
        REJECTED = "rejected", _("Rejected")
        RENTED = "rented", _("Rented")
        ARCHIVED = "archived", _("Archived")

    class PropertyType(models.TextChoices):
        ROOM = "room", _("Room")
        FLAT = "flat", _("Flat")
        APARTMENT = "apartment", _("Apartment")
        HOUSE = "house", _("House")
        SHOP = "shop", _("Shop / office")

    class Bathroom(models.TextChoices):
        ATTACHED = "attached", _("Attached")
        SHARED = "shared", _("Shared")

    class Furnishing(models.TextChoices):
        UNFURNISHED = "unfurnished", _("Unfurnished")
        SEMI = "semi", _("Semi-furnished")
        FULL = "full", _("Fully furnished")

    class WaterSource(models.TextChoices):
        MUNICIPAL = "municipal", _("Municipal line / Melamchi")
        BORING = "boring", _("Boring / deep well")
        TANKER = "tanker", _("Tanker")
        JAR = "jar", _("Jar only")
        MIXED = "mixed", _("Municipal and boring")

    class ElectricityBilling(models.TextChoices):
        SUBMETER = "submeter", _("Own sub-meter at the official NEA rate")
        OWNER_RATE = "owner_rate", _("Owner's per-unit rate")
        INCLUDED = "included", _("Included in the rent")

    class RoadSurface(models.TextChoices):
        PITCHED = "pitched", _("Pitched (blacktop)")
        GRAVEL = "gravel", _("Gravel")
        DIRT = "dirt", _("Dirt")

    class PreferredTenants(models.TextChoices):
        ANYONE = "anyone", _("Anyone")
        FAMILY = "family", _("Family")
        PROFESSIONALS = "professionals", _("Working professionals")
        STUDENTS = "students", _("Students")

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="listings",
        verbose_name=_("owner"),
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status, default=Status.DRAFT
    )
    rejection_reason = models.TextField(_("reason for rejection"), blank=True)

    title = models.CharField(_("title"), max_length=120)
    slug = models.SlugField(_("slug"), max_length=140, blank=True)
    description = models.TextField(_("description"), max_length=5000)
    property_type = models.CharField(
        _("property type"), max_length=10, choices=PropertyType
    )

    locality = models.ForeignKey(
        Locality,
        on_delete=models.PROTECT,
        related_name="listings",
        verbose_name=_("locality"),
    )
    street = models.CharField(_("street / tole"), max_length=120, blank=True)
    landmark = models.CharField(_("landmark"), max_length=120, blank=True)
    latitude = models.DecimalField(
        _("map pin latitude"),
        max_digits=8,
        decimal_places=5,
        null=True,
        blank=True,
        validators=[MinValueValidator(27.4), MaxValueValidator(27.9)],
    )
    longitude = models.DecimalField(
        _("map pin longitude"),
        max_digits=8,
        decimal_places=5,
        null=True,
        blank=True,
        validators=[MinValueValidator(85.1), MaxValueValidator(85.6)],
    )

    # Off: the map shows the locality, never the house (nobroker/kathmandu.md:
    # a pin is approximate to about a kilometre).
    pin_exact = models.BooleanField(
        _("show my exact pin on the map"),
        default=False,
        help_text=_("Otherwise tenants see only the locality on the map."),
    )

    rent = models.PositiveIntegerField(
        _("monthly rent (NPR)"),
        validators=[MinValueValidator(500), MaxValueValidator(10_000_000)],
    )
    deposit = models.PositiveIntegerField(
        _("security deposit (NPR)"),
        default=0,
        validators=[MaxValueValidator(100_000_000)],
    )
    negotiable = models.BooleanField(_("rent negotiable"), default=False)

    bedrooms = models.PositiveSmallIntegerField(
        _("bedrooms"), default=1, validators=[MaxValueValidator(20)]
    )
    bathrooms = models.PositiveSmallIntegerField(
        _("bathrooms"), default=1, validators=[MaxValueValidator(20)]
    )
    bathroom_type = models.CharField(
        _("bathroom"), max_length=10, choices=Bathroom, default=Bathroom.ATTACHED
    )
    kitchen = models.BooleanField(_("kitchen"), default=True)
    living_room = models.BooleanField(_("living room"), default=False)
    floor = models.PositiveSmallIntegerField(
        _("floor"),
        default=0,
        help_text=_("0 is the ground floor."),
        validators=[MaxValueValidator(40)],
    )
    furnishing = models.CharField(
        _("furnishing"),
        max_length=12,
        choices=Furnishing,
        default=Furnishing.UNFURNISHED,
    )

    bike_parking = models.PositiveSmallIntegerField(
        _("motorbike parking spaces"), validators=[MaxValueValidator(50)]
    )
    car_parking = models.PositiveSmallIntegerField(
        _("car parking spaces"), validators=[MaxValueValidator(20)]
    )
    water_source = models.CharField(
        _("water source"), max_length=10, choices=WaterSource
    )
    water_hours = models.PositiveSmallIntegerField(
        _("water supply (hours per day)"),
        validators=[
            MaxValueValidator(24, _("Water supply hours must be between 0 and 24."))
        ],
    )
    electricity_billing = models.CharField(
        _("electricity billing"), max_length=12, choices=ElectricityBilling
    )
    electricity_rate = models.DecimalField(
        _("electricity rate (Rs. per unit)"),
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    road_width_feet = models.PositiveSmallIntegerField(
        _("road width (feet)"),
        null=True,
        blank=True,
        validators=[MaxValueValidator(200)],
    )
    road_surface = models.CharField(
        _("road surface"), max_length=10, choices=RoadSurface, blank=True
    )
    internet = models.BooleanField(_("internet available"), default=False)
    amenities = models.JSONField(_("amenities"), default=list, blank=True)

    preferred_tenants = models.CharField(
        _("preferred tenants"),
        max_length=15,
        choices=PreferredTenants,
        default=PreferredTenants.ANYONE,
    )
    pets_allowed = models.BooleanField(_("pets allowed"), default=False)
    non_veg_allowed = models.BooleanField(
        _("non-vegetarian cooking allowed"), default=True
    )
    minimum_stay_months = models.PositiveSmallIntegerField(
        _("minimum stay (months)"), default=0, validators=[MaxValueValidator(60)]
    )
    available_from = models.DateField(_("available from"), default=timezone.localdate)

    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    published_at = models.DateTimeField(_("published"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    reminder_sent_at = models.DateTimeField(
        _("expiry reminder sent"), null=True, blank=True
    )
    view_count = models.PositiveIntegerField(_("views"), default=0, editable=False)
    # Title and description as a full-text document, kept by a PostgreSQL
    # trigger (migration 0007) whenever either changes; empty elsewhere, where
    # search matches the words in the text itself.
    search_document = SearchVectorField(null=True, editable=False)

    objects = ListingQuerySet.as_manager()

    class Meta:
        ordering = ["-published_at", "-id"]
        indexes = [
            # The real query shapes of the search page: published only, newest
            # first or by rent, optionally within localities.
            # Each carries every filter column of the search form, so a search
            # with several filters is checked on the index entries: the count
            # and the page's keys never read the table's rows (migration 0009).
            models.Index(
                fields=["-published_at", "-id"],
                include=SEARCH_FILTER_COLUMNS,
                name="listing_pub_newest_cover",
                condition=Q(status="published"),
            ),
            models.Index(
                fields=["locality", "-published_at", "-id"],
                include=SEARCH_FILTER_COLUMNS,
                name="listing_pub_loc_newest_cover",
                condition=Q(status="published"),
            ),
            # Many-filter searches within a locality: the bedrooms bound is a
            # range on the key, the other filters are checked on narrow
            # entries, so the capped count of a rare combination walks the
            # locality's 3+ bedroom entries, not all of them (migration 0013).
            models.Index(
                fields=["locality", "bedrooms"],
                include=SEARCH_FILTER_COLUMNS_BUT_BEDROOMS,
                name="listing_pub_loc_bedrooms",
                condition=Q(status="published"),
            ),
            models.Index(
                "rent",
                "id",
                name="listing_pub_rent",
                condition=Q(status="published"),
            ),
            models.Index(
                "locality",
                "rent",
                "id",
                name="listing_pub_loc_rent",
                condition=Q(status="published"),
            ),
            # Filters on locality + type + rent: counted from the index alone.
            models.Index(
                "locality",
                "property_type",
                "rent",
                F("published_at").desc(),
                name="listing_pub_loc_type_rent",
                condition=Q(status="published"),
            ),
            # Locality + type, newest first, with the rent bounds checked on the
            # index entries: the page's keys and the count skip the table.
            models.Index(
                fields=["locality", "property_type", "-published_at", "-id", "rent"],
                name="listing_pub_loc_type_newest",
                condition=Q(status="published"),
            ),
            models.Index("status", "expires_at", name="listing_status_expires"),
            models.Index(fields=["owner", "-created_at"], name="listing_owner_created"),
            # The full-text GIN index over title and description is created by
            # migration 0005 on PostgreSQL only, outside the model state, so
            # SQLite never tries to build it.
        ]

    def __str__(self):
        return self.title

    def save(self, *args, **kwargs):
        if not self.slug:
            self.slug = self.slug_for(self.title)
        super().save(*args, **kwargs)

    def get_absolute_url(self):
        return reverse("listings:detail", kwargs={"pk": self.pk, "slug": self.slug})

    @staticmethod
    def slug_for(title: str) -> str:
        return slugify(title)[:140].strip("-") or "listing"

    def can_be_edited_by(self, user) -> bool:
        return user.is_authenticated and user.pk == self.owner_id

    def is_visible_to(self, user) -> bool:
        return self.status == self.Status.PUBLISHED or self.can_be_edited_by(user)

    def clean(self):
        super().clean()
        if (
            self.electricity_billing == self.ElectricityBilling.OWNER_RATE
            and self.electricity_rate is None
        ):
            raise ValidationError(
                {
                    "electricity_rate": _(
                        "Say how many rupees per unit you charge, so tenants can "
                        "compare with the official rate."
                    )
                }
            )

    @property
    def map_point(self) -> tuple:
        """Where a map puts this listing: the owner's pin only when they chose
        to show it exactly, otherwise the locality's centre."""
        if self.pin_exact and self.latitude is not None and self.longitude is not None:
            return self.latitude, self.longitude, True
        return self.locality.latitude, self.locality.longitude, False

    @property
    def is_published(self) -> bool:
        return self.status == self.Status.PUBLISHED

    @property
    def can_be_submitted(self) -> bool:
        return self.status in {self.Status.DRAFT, self.Status.REJECTED}

    @property
    def can_be_relisted(self) -> bool:
        return self.status in {self.Status.RENTED, self.Status.ARCHIVED}

    @property
    def cover(self):
        """The cover photo, using the prefetched covers when the queryset has them."""
        if hasattr(self, "cover_photos"):
            return self.cover_photos[0] if self.cover_photos else None
        return self.photos.filter(is_cover=True).first()

    @property
    def amenity_labels(self) -> list[str]:
        labels = dict(AMENITIES)
        return [labels[a] for a in self.amenities if a in labels]


def photo_upload_to(instance, filename: str) -> str:
    # Random names: nothing about the owner or the original file leaks, nothing
    # is ever overwritten.
    return f"listings/{uuid.uuid4().hex[:2]}/{uuid.uuid4().hex}.webp"


class ListingPhoto(models.Model):
    """One re-encoded photo of a listing, stored in the sizes the pages use."""

    listing = models.ForeignKey(
        Listing,
        on_delete=models.CASCADE,
        related_name="photos",
        verbose_name=_("listing"),
    )
    large = models.ImageField(_("large (1600 px)"), upload_to=photo_upload_to)
    medium = models.ImageField(_("medium (800 px)"), upload_to=photo_upload_to)
    thumb = models.ImageField(_("thumbnail (400 px)"), upload_to=photo_upload_to)
    width = models.PositiveIntegerField(_("width"), default=0)
    height = models.PositiveIntegerField(_("height"), default=0)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    is_cover = models.BooleanField(_("cover photo"), default=False)
    alt_text = models.CharField(_("description"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("uploaded"), default=timezone.now)

    class Meta:
        ordering = ["-is_cover", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["listing"],
                condition=models.Q(is_cover=True),
                name="one_cover_photo_per_listing",
            )
        ]

    def __str__(self):
        return f"Photo {self.position} of {self.listing_id}"


class Shortlist(models.Model):
    """A tenant keeping a listing to compare later."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="shortlist",
        verbose_name=_("user"),
    )
    listing = models.ForeignKey(
        Listing,
        on_delete=models.CASCADE,
        related_name="shortlisted_by",
        verbose_name=_("listing"),
    )
    created_at = models.DateTimeField(_("added"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "listing"], name="one_shortlist_entry_per_listing"
            )
        ]

    def __str__(self):
        return f"{self.user_id} keeps {self.listing_id}"


class ListingReport(models.Model):
    class Reason(models.TextChoices):
        BROKER = "broker", _("A broker is asking for commission")
        SCAM = "scam", _("Looks like a scam")
        RENTED = "rented", _("Already rented")
        WRONG = "wrong", _("Wrong details")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        UPHELD = "upheld", _("Upheld")
        DISMISSED = "dismissed", _("Dismissed")

    listing = models.ForeignKey(
        Listing,
        on_delete=models.CASCADE,
        related_name="reports",
        verbose_name=_("listing"),
    )
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="listing_reports",
        verbose_name=_("reported by"),
    )
    reason = models.CharField(_("reason"), max_length=10, choices=Reason)
    details = models.TextField(_("what happened"), max_length=2000, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=Status, default=Status.OPEN
    )
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("resolved by"),
    )
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    created_at = models.DateTimeField(_("reported"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "-created_at"], name="report_status_created")
        ]

    def __str__(self):
        return f"{self.get_reason_display()}: {self.listing_id}"


# --- Daily numbers ------------------------------------------------------------
# Counted off the page's path by nobroker.counting and flushed by listings.stats;
# the locality rows are rolled up nightly from the listing rows.


class DailyCounts(models.Model):
    views = models.PositiveIntegerField(_("views"), default=0)
    unique_viewers = models.PositiveIntegerField(_("unique viewers"), default=0)
    search_appearances = models.PositiveIntegerField(_("search appearances"), default=0)
    shortlists = models.PositiveIntegerField(_("shortlists"), default=0)
    contacts = models.PositiveIntegerField(_("contacts"), default=0)
    visit_requests = models.PositiveIntegerField(_("visit requests"), default=0)
    visits_done = models.PositiveIntegerField(_("visits done"), default=0)
    rented = models.PositiveIntegerField(_("rented"), default=0)

    class Meta:
        abstract = True


class ListingDay(DailyCounts):
    """One listing's numbers on one day (local date)."""

    listing = models.ForeignKey(
        Listing,
        on_delete=models.CASCADE,
        related_name="days",
        verbose_name=_("listing"),
    )
    day = models.DateField(_("day"))

    class Meta:
        ordering = ["listing", "day"]
        constraints = [
            models.UniqueConstraint(fields=["listing", "day"], name="listing_day_once")
        ]
        indexes = [models.Index(fields=["day"], name="listing_day_day")]

    def __str__(self):
        return f"{self.listing_id} on {self.day}"


class LocalityDay(DailyCounts):
    """The listings of one locality and type on one day, summed (nightly)."""

    locality = models.ForeignKey(
        Locality, on_delete=models.CASCADE, related_name="+", verbose_name=_("locality")
    )
    property_type = models.CharField(
        _("property type"), max_length=10, choices=Listing.PropertyType
    )
    day = models.DateField(_("day"))
    listings = models.PositiveIntegerField(_("listings with activity"), default=0)

    class Meta:
        ordering = ["locality", "property_type", "day"]
        constraints = [
            models.UniqueConstraint(
                fields=["locality", "property_type", "day"], name="locality_day_once"
            )
        ]
        indexes = [models.Index(fields=["day"], name="locality_day_day")]

    def __str__(self):
        return f"{self.locality_id} {self.property_type} on {self.day}"


class ListingRent(models.Model):
    """
    A rent a listing was offered at from a moment on: each time it goes on the
    site and each time its rent changes while there, so a place relisted at a
    new rent counts again in the rent index.
    """

    listing = models.ForeignKey(
        Listing,
        on_delete=models.CASCADE,
        related_name="rents",
        verbose_name=_("listing"),
    )
    rent = models.PositiveIntegerField(_("monthly rent (Rs.)"))
    at = models.DateTimeField(_("from"), default=timezone.now)

    class Meta:
        ordering = ["listing", "at"]
        indexes = [models.Index(fields=["at"], name="listing_rent_at")]

    def __str__(self):
        return f"{self.listing_id}: Rs. {self.rent} from {self.at:%Y-%m-%d}"
