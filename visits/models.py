import datetime as dt

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from listings.models import Listing

MIDNIGHT = dt.time(0, 0)


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("Monday")
    TUESDAY = 1, _("Tuesday")
    WEDNESDAY = 2, _("Wednesday")
    THURSDAY = 3, _("Thursday")
    FRIDAY = 4, _("Friday")
    SATURDAY = 5, _("Saturday")
    SUNDAY = 6, _("Sunday")


class Availability(models.Model):
    """How an owner receives visitors at one listing."""

    class SlotLength(models.IntegerChoices):
        QUARTER = 15, _("15 minutes")
        TWENTY = 20, _("20 minutes")
        HALF = 30, _("30 minutes")
        THREE_QUARTERS = 45, _("45 minutes")
        HOUR = 60, _("1 hour")

    listing = models.OneToOneField(
        Listing,
        on_delete=models.CASCADE,
        related_name="availability",
        verbose_name=_("listing"),
    )
    slot_minutes = models.PositiveSmallIntegerField(
        _("length of a visit"), choices=SlotLength, default=SlotLength.HALF
    )
    capacity = models.PositiveSmallIntegerField(
        _("people per visit slot"),
        default=1,
        validators=[
            MinValueValidator(1, _("A slot takes at least one person.")),
            MaxValueValidator(20, _("A slot takes at most 20 people.")),
        ],
        help_text=_("1 for a private visit; more for an open-house visit."),
    )
    instant_booking = models.BooleanField(
        _("confirm requests at once"),
        default=False,
        help_text=_(
            "Tenants who book a free slot are confirmed without waiting for you."
        ),
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("visiting hours")
        verbose_name_plural = _("visiting hours")
        constraints = [
            models.CheckConstraint(
                condition=Q(capacity__gte=1), name="availability_capacity_positive"
            )
        ]

    def __str__(self):
        return f"Visiting hours of {self.listing_id}"

    @property
    def slot_length(self) -> dt.timedelta:
        return dt.timedelta(minutes=self.slot_minutes)


class TimeWindowMixin(models.Model):
    """A span of one day; an end of 00:00 means midnight at the end of the day."""

    start_time = models.TimeField(_("from"))
    end_time = models.TimeField(_("until"), help_text=_("00:00 means midnight."))

    class Meta:
        abstract = True

    def clean(self):
        super().clean()
        if (
            self.start_time is not None
            and self.end_time is not None
            and self.end_time != MIDNIGHT
            and self.end_time <= self.start_time
        ):
            raise ValidationError(
                {"end_time": _("The end must be later than the start.")}
            )

    def bounds_on(self, day: dt.date, tz) -> tuple[dt.datetime, dt.datetime]:
        start = dt.datetime.combine(day, self.start_time, tzinfo=tz)
        if self.end_time == MIDNIGHT:
            end = dt.datetime.combine(day + dt.timedelta(days=1), MIDNIGHT, tzinfo=tz)
        else:
            end = dt.datetime.combine(day, self.end_time, tzinfo=tz)
        return start, end


class WeeklyWindow(TimeWindowMixin):
    listing = models.ForeignKey(
        Listing,
        on_delete=models.CASCADE,
        related_name="weekly_windows",
        verbose_name=_("listing"),
    )
    weekday = models.PositiveSmallIntegerField(_("day"), choices=Weekday)

    class Meta:
        ordering = ["weekday", "start_time"]
        verbose_name = _("weekly visiting window")

    def __str__(self):
        return f"{self.get_weekday_display()} {self.start_time:%H:%M}–{self.end_time:%H:%M}"


class DateWindow(TimeWindowMixin):
    """Visiting hours on one date only, on top of the weekly ones."""

    listing = models.ForeignKey(
        Listing,
        on_delete=models.CASCADE,
        related_name="date_windows",
        verbose_name=_("listing"),
    )
    date = models.DateField(_("date"))

    class Meta:
        ordering = ["date", "start_time"]
        verbose_name = _("one-off visiting window")

    def __str__(self):
        return f"{self.date} {self.start_time:%H:%M}–{self.end_time:%H:%M}"


class BlockedDate(models.Model):
    listing = models.ForeignKey(
        Listing,
        on_delete=models.CASCADE,
        related_name="blocked_dates",
        verbose_name=_("listing"),
    )
    date = models.DateField(_("date"))
    reason = models.CharField(_("note to yourself"), max_length=120, blank=True)

    class Meta:
        ordering = ["date"]
        verbose_name = _("blocked date")
        constraints = [
            models.UniqueConstraint(
                fields=["listing", "date"], name="one_block_per_listing_date"
            )
        ]

    def __str__(self):
        return str(self.date)


class Slot(models.Model):
    """
    The booking ledger of one visiting time. Rows are made when first booked;
    the check constraint is the last word on overbooking, and the row is locked
    with SELECT ... FOR UPDATE while a place is taken or given back.
    """

    listing = models.ForeignKey(
        Listing,
        on_delete=models.CASCADE,
        related_name="slots",
        verbose_name=_("listing"),
    )
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))
    capacity = models.PositiveSmallIntegerField(_("places"), default=1)
    booked = models.PositiveSmallIntegerField(_("places taken"), default=0)

    class Meta:
        ordering = ["starts_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["listing", "starts_at"], name="one_slot_per_listing_time"
            ),
            models.CheckConstraint(
                condition=Q(booked__gte=0) & Q(booked__lte=F("capacity")),
                name="slot_never_overbooked",
            ),
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")), name="slot_ends_after_start"
            ),
        ]

    def __str__(self):
        return (
            f"{self.listing_id} @ {timezone.localtime(self.starts_at):%Y-%m-%d %H:%M}"
        )

    @property
    def remaining(self) -> int:
        return max(self.capacity - self.booked, 0)


class VisitQuerySet(models.QuerySet):
    def active(self):
        return self.filter(status__in=Visit.ACTIVE_STATUSES)

    def active_for(self, tenant, listing):
        """The tenant's open visits to a listing (at most one, see `visit_request`)."""
        return self.active().filter(tenant=tenant, listing=listing)

    def for_tenant(self, user):
        return self.filter(tenant=user)

    def for_owner(self, user):
        return self.filter(listing__owner=user)

    def involving(self, user):
        """Visits the user takes part in, as tenant or as owner."""
        if not user.is_authenticated:
            return self.none()
        return self.filter(Q(tenant=user) | Q(listing__owner=user))

    def upcoming(self, now=None):
        return self.filter(slot__ends_at__gt=now or timezone.now())

    def past(self, now=None):
        return self.filter(slot__ends_at__lte=now or timezone.now())

    def with_related(self):
        return self.select_related(
            "slot", "proposed_slot", "tenant", "listing__owner", "listing__locality"
        )


class Visit(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for confirmation")
        CONFIRMED = "confirmed", _("Confirmed")
        DECLINED = "declined", _("Declined")
        PROPOSED = "proposed", _("Another time proposed")
        CANCELLED = "cancelled", _("Cancelled")
        DONE = "done", _("Done")
        NO_SHOW = "no_show", _("Tenant did not come")

    ACTIVE_STATUSES = (Status.PENDING, Status.CONFIRMED, Status.PROPOSED)

    listing = models.ForeignKey(
        Listing,
        on_delete=models.CASCADE,
        related_name="visits",
        verbose_name=_("listing"),
    )
    tenant = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="visits",
        verbose_name=_("tenant"),
    )
    slot = models.ForeignKey(
        Slot, on_delete=models.PROTECT, related_name="visits", verbose_name=_("time")
    )
    proposed_slot = models.ForeignKey(
        Slot,
        on_delete=models.PROTECT,
        related_name="proposed_visits",
        null=True,
        blank=True,
        verbose_name=_("proposed time"),
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status, default=Status.PENDING
    )
    note = models.CharField(_("note to the owner"), max_length=500, blank=True)
    decline_reason = models.CharField(
        _("reason for declining"), max_length=300, blank=True
    )
    cancel_reason = models.CharField(
        _("reason for cancelling"), max_length=300, blank=True
    )
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
        verbose_name=_("cancelled by"),
    )
    # One key per rendered booking form: a form posted twice makes one visit.
    idempotency_key = models.UUIDField(null=True, blank=True, unique=True)
    reminder_24h_sent_at = models.DateTimeField(null=True, blank=True)
    reminder_2h_sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(_("requested"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = VisitQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "listing"],
                condition=Q(status__in=["pending", "confirmed", "proposed"]),
                name="one_active_visit_per_tenant_and_listing",
            ),
            models.CheckConstraint(
                condition=~Q(status="proposed") | Q(proposed_slot__isnull=False),
                name="proposal_has_a_slot",
            ),
        ]

    def __str__(self):
        return f"Visit {self.pk} to {self.listing_id} ({self.status})"

    def get_absolute_url(self):
        return reverse("visits:detail", kwargs={"pk": self.pk})

    @property
    def starts_at(self) -> dt.datetime:
        return self.slot.starts_at

    @property
    def ends_at(self) -> dt.datetime:
        return self.slot.ends_at

    @property
    def local_day(self) -> dt.date:
        return timezone.localtime(self.slot.starts_at).date()

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES

    @property
    def held_slot(self) -> Slot | None:
        """The slot whose place this visit occupies, if any."""
        if self.status == self.Status.PROPOSED:
            return self.proposed_slot
        if self.status in (self.Status.PENDING, self.Status.CONFIRMED):
            return self.slot
        return None

    def is_party(self, user) -> bool:
        return user.is_authenticated and user.pk in (
            self.tenant_id,
            self.listing.owner_id,
        )

    def is_owner(self, user) -> bool:
        return user.is_authenticated and user.pk == self.listing.owner_id

    def is_tenant(self, user) -> bool:
        return user.is_authenticated and user.pk == self.tenant_id

    def has_started(self, now=None) -> bool:
        return self.slot.starts_at <= (now or timezone.now())

    def shows_owner_phone_to(self, user) -> bool:
        return self.is_tenant(user) and self.status in (
            self.Status.CONFIRMED,
            self.Status.DONE,
            self.Status.NO_SHOW,
        )

    def can_confirm(self, user) -> bool:
        return self.is_owner(user) and self.status == self.Status.PENDING

    def can_decline(self, user) -> bool:
        return self.can_confirm(user)

    def can_propose(self, user) -> bool:
        return (
            self.is_owner(user)
            and self.status in (self.Status.PENDING, self.Status.CONFIRMED)
            and not self.has_started()
        )

    def can_answer_proposal(self, user) -> bool:
        return self.is_tenant(user) and self.status == self.Status.PROPOSED

    def can_cancel(self, user) -> bool:
        # An owner answers a pending request by declining it, not cancelling.
        if self.is_owner(user) and self.status == self.Status.PENDING:
            return False
        return self.is_party(user) and self.is_active and not self.has_started()

    def can_record_outcome(self, user) -> bool:
        return (
            self.is_owner(user)
            and self.status == self.Status.CONFIRMED
            and self.has_started()
        )

    def can_give_feedback(self, user) -> bool:
        if not self.is_tenant(user) or hasattr(self, "feedback"):
            return False
        if self.status == self.Status.DONE:
            return True
        return self.status == self.Status.CONFIRMED and self.has_started()


class VisitEvent(models.Model):
    """One change of a visit, kept for the history shown to both parties."""

    class Kind(models.TextChoices):
        REQUESTED = "requested", _("Requested")
        CONFIRMED = "confirmed", _("Confirmed")
        DECLINED = "declined", _("Declined")
        PROPOSED = "proposed", _("Proposed another time")
        ACCEPTED = "accepted", _("Accepted the proposed time")
        REJECTED = "rejected", _("Declined the proposed time")
        CANCELLED = "cancelled", _("Cancelled")
        DONE = "done", _("Marked done")
        NO_SHOW = "no_show", _("Marked as a no-show")
        FEEDBACK = "feedback", _("Feedback given")

    visit = models.ForeignKey(
        Visit, on_delete=models.CASCADE, related_name="events", verbose_name=_("visit")
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    kind = models.CharField(_("what happened"), max_length=12, choices=Kind)
    status = models.CharField(_("status after"), max_length=10, choices=Visit.Status)
    slot_starts_at = models.DateTimeField(_("time"), null=True, blank=True)
    text = models.CharField(_("reason or note"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("when"), default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"{self.get_kind_display()} ({self.visit_id})"


class VisitFeedbackQuerySet(models.QuerySet):
    def needing_review(self):
        return self.filter(needs_review=True, resolved_at__isnull=True)


class VisitFeedback(models.Model):
    """The tenant's two answers after a visit; worrying ones go to moderation."""

    visit = models.OneToOneField(
        Visit,
        on_delete=models.CASCADE,
        related_name="feedback",
        verbose_name=_("visit"),
    )
    listing_accurate = models.BooleanField(_("the listing was accurate"))
    commission_asked = models.BooleanField(_("someone asked for a broker's commission"))
    comment = models.TextField(_("anything else"), max_length=1000, blank=True)
    needs_review = models.BooleanField(_("needs review"), default=False)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("resolved by"),
    )
    created_at = models.DateTimeField(_("given"), default=timezone.now)

    objects = VisitFeedbackQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("visit feedback")
        verbose_name_plural = _("visit feedback")

    def __str__(self):
        return f"Feedback on visit {self.visit_id}"
