import contextlib
from datetime import timedelta

from botocore.exceptions import BotoCoreError, ClientError
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.emails import send_templated_email
from accounts.models import User
from accounts.services import user_flag, user_flag_shared_phone
from listings.cache import bump_version
from listings.models import (
    Listing,
    ListingPhoto,
    ListingRent,
    ListingReport,
    Shortlist,
)
from listings.photos import MAX_PHOTOS, EncodedPhoto, encode_photo
from listings.stats import count_event

LISTING_LIFETIME = timedelta(days=60)
REMINDER_BEFORE = timedelta(days=7)


def _email_owner(listing: Listing, template: str, **context) -> None:
    send_templated_email(
        to=listing.owner.email,
        template=f"listings/emails/{template}",
        context={"listing": listing, "owner": listing.owner, **context},
    )


def _publish(listing: Listing) -> None:
    now = timezone.now()
    listing.status = Listing.Status.PUBLISHED
    listing.published_at = now
    listing.expires_at = now + LISTING_LIFETIME
    listing.reminder_sent_at = None
    listing.rejection_reason = ""
    listing.save(
        update_fields=[
            "status",
            "published_at",
            "expires_at",
            "reminder_sent_at",
            "rejection_reason",
            "updated_at",
        ]
    )
    # Each time the place goes on the site is one rent for the rent index.
    ListingRent.objects.create(listing=listing, rent=listing.rent, at=now)


def owner_publishes_directly(owner: User) -> bool:
    """
    Trusted owners publish without review. Every other owner's listings go to
    the review queue, so a new owner's first listing is always checked.
    """
    return owner.is_trusted_owner and not owner.is_flagged


@transaction.atomic
def listing_create(*, owner: User, form) -> Listing:
    """Saves a new listing as a draft of this owner (whatever the form posted)."""
    listing = form.save(commit=False)
    listing.owner = owner
    listing.status = Listing.Status.DRAFT
    listing.slug = Listing.slug_for(listing.title)
    listing.save()
    return listing


REVIEWED_FIELDS = {"title", "description"}


@transaction.atomic
def listing_update(*, listing: Listing, form) -> Listing:
    """
    Saves the owner's edits; the slug follows the title (old URLs redirect).
    A published listing whose words change goes back to review unless its
    owner publishes directly, so approval cannot be swapped for other text.
    """
    reviewed_change = bool(REVIEWED_FIELDS & set(form.changed_data))
    listing = form.save(commit=False)
    listing.slug = Listing.slug_for(listing.title)
    if (
        reviewed_change
        and listing.is_published
        and not owner_publishes_directly(listing.owner)
    ):
        listing.status = Listing.Status.PENDING
    listing.save()
    if "rent" in form.changed_data and listing.is_published:
        ListingRent.objects.create(listing=listing, rent=listing.rent)
    return listing


@transaction.atomic
def listing_submit(*, listing: Listing) -> Listing:
    """
    Sends a draft (or a rejected listing, once fixed) to publication: straight
    to the site for a trusted owner, to the review queue for anyone else.
    """
    owner = listing.owner
    if not owner.email_verified:
        raise ValidationError(
            _("Verify your email address before publishing; we sent you a link.")
        )
    if not listing.can_be_submitted:
        raise ValidationError(_("This listing cannot be submitted in its state."))
    user_flag_shared_phone(user=owner)
    owner.refresh_from_db(fields=["is_flagged", "is_trusted_owner"])
    if owner_publishes_directly(owner):
        _publish(listing)
        _email_owner(listing, "published")
    else:
        listing.status = Listing.Status.PENDING
        listing.save(update_fields=["status", "updated_at"])
    return listing


@transaction.atomic
def listing_approve(*, listing: Listing) -> Listing:
    """Staff approval of a listing under review: published and the owner told."""
    if listing.status != Listing.Status.PENDING:
        raise ValidationError(_("Only listings pending review can be approved."))
    _publish(listing)
    _email_owner(listing, "published")
    return listing


@transaction.atomic
def listing_reject(*, listing: Listing, reason: str) -> Listing:
    """Staff rejection with a reason the owner receives by email."""
    reason = reason.strip()
    if not reason:
        raise ValidationError(_("Give the owner a reason for the rejection."))
    listing.status = Listing.Status.REJECTED
    listing.rejection_reason = reason
    listing.save(update_fields=["status", "rejection_reason", "updated_at"])
    _email_owner(listing, "rejected", reason=reason)
    return listing


@transaction.atomic
def listing_mark_rented(*, listing: Listing) -> Listing:
    """Takes a published listing off the search: the owner found a tenant."""
    if not listing.is_published:
        raise ValidationError(_("Only a published listing can be marked rented."))
    listing.status = Listing.Status.RENTED
    listing.expires_at = None
    listing.save(update_fields=["status", "expires_at", "updated_at"])
    count_event("rented", listing.pk)
    return listing


@transaction.atomic
def listing_relist(*, listing: Listing) -> Listing:
    """Puts a rented or expired listing back: published again or back to review."""
    if not listing.can_be_relisted:
        raise ValidationError(_("Only rented or archived listings can be relisted."))
    listing.status = Listing.Status.DRAFT
    listing.save(update_fields=["status", "updated_at"])
    return listing_submit(listing=listing)


@transaction.atomic
def listing_confirm_available(*, listing: Listing) -> Listing:
    """The owner says the place is still free: another 60 days on the site."""
    if not listing.is_published:
        raise ValidationError(_("Only a published listing can be extended."))
    listing.expires_at = timezone.now() + LISTING_LIFETIME
    listing.reminder_sent_at = None
    listing.save(update_fields=["expires_at", "reminder_sent_at", "updated_at"])
    return listing


@transaction.atomic
def listing_delete(*, listing: Listing) -> None:
    """Deletes the listing, then its stored photo files once the delete commits."""
    files = [
        (f.storage, f.name)
        for photo in listing.photos.all()
        for f in (photo.large, photo.medium, photo.thumb)
        if f
    ]
    listing.delete()

    def _remove_files():
        for storage, name in files:
            storage.delete(name)

    transaction.on_commit(_remove_files)


@transaction.atomic
def listings_send_expiry_reminders(*, now=None) -> int:
    """Emails owners whose listing expires within a week, once per period."""
    now = now or timezone.now()
    due = list(
        Listing.objects.expiring_before(now + REMINDER_BEFORE)
        .filter(expires_at__gt=now, reminder_sent_at__isnull=True)
        .select_related("owner")
        .select_for_update(of=("self",))
    )
    for listing in due:
        listing.reminder_sent_at = now
        listing.save(update_fields=["reminder_sent_at"])
        _email_owner(listing, "expiry_reminder")
    return len(due)


@transaction.atomic
def listings_expire(*, now=None) -> int:
    """Archives published listings past their expiry and tells each owner."""
    now = now or timezone.now()
    due = list(
        Listing.objects.expiring_before(now)
        .select_related("owner")
        .select_for_update(of=("self",))
    )
    for listing in due:
        listing.status = Listing.Status.ARCHIVED
        listing.save(update_fields=["status", "updated_at"])
        _email_owner(listing, "expired")
    return len(due)


# --- Photos -------------------------------------------------------------------


class StorageUnavailable(Exception):
    """The media storage (S3) did not take the photo; nothing was kept."""


# What S3 (botocore) or a full or missing disk raise when a file cannot be written.
STORAGE_ERRORS = (BotoCoreError, ClientError, OSError)


@transaction.atomic
def photo_add(*, listing: Listing, data: bytes, name: str = "") -> ListingPhoto:
    """Re-encodes one accepted upload and stores it; the first becomes the cover."""
    Listing.objects.select_for_update().filter(pk=listing.pk).first()
    count = listing.photos.count()
    if count >= MAX_PHOTOS:
        raise ValidationError(
            _("A listing can have at most %(max)s photos.") % {"max": MAX_PHOTOS}
        )
    return photo_store(
        listing=listing, encoded=encode_photo(data, name), position=count
    )


def photo_store(
    *, listing: Listing, encoded: EncodedPhoto, position: int
) -> ListingPhoto:
    """Writes the renditions through the configured storage under random names."""
    photo = ListingPhoto(
        listing=listing,
        width=encoded.width,
        height=encoded.height,
        position=position,
        is_cover=position == 0,
        alt_text=listing.title[:200],
    )
    written = []
    try:
        for field_name in ("large", "medium", "thumb"):
            field = getattr(photo, field_name)
            field.save(
                f"{field_name}.webp",
                ContentFile(getattr(encoded, field_name)),
                save=False,
            )
            written.append((field.storage, field.name))
    except STORAGE_ERRORS as error:
        # No half photo: what was written goes (if the storage still answers).
        for storage, name in written:
            with contextlib.suppress(*STORAGE_ERRORS):
                storage.delete(name)
        raise StorageUnavailable from error
    photo.save()
    return photo


def _renumber(listing: Listing, ordered: list[ListingPhoto]) -> None:
    for position, photo in enumerate(ordered):
        if photo.position != position:
            photo.position = position
            photo.save(update_fields=["position"])


@transaction.atomic
def photo_move(*, photo: ListingPhoto, offset: int) -> None:
    """Moves a photo up (-1) or down (+1) in the gallery order."""
    ordered = list(photo.listing.photos.order_by("position", "id"))
    index = next(i for i, p in enumerate(ordered) if p.pk == photo.pk)
    target = min(max(index + offset, 0), len(ordered) - 1)
    ordered.insert(target, ordered.pop(index))
    _renumber(photo.listing, ordered)


@transaction.atomic
def photo_make_cover(*, photo: ListingPhoto) -> None:
    photo.listing.photos.filter(is_cover=True).exclude(pk=photo.pk).update(
        is_cover=False
    )
    photo.is_cover = True
    photo.save(update_fields=["is_cover"])


@transaction.atomic
def photo_delete(*, photo: ListingPhoto) -> None:
    """Deletes a photo and its files; another photo becomes cover if needed."""
    listing = photo.listing
    files = [(f.storage, f.name) for f in (photo.large, photo.medium, photo.thumb) if f]
    was_cover = photo.is_cover
    photo.delete()
    rest = list(listing.photos.order_by("position", "id"))
    _renumber(listing, rest)
    if was_cover and rest:
        photo_make_cover(photo=rest[0])
    transaction.on_commit(lambda: [storage.delete(name) for storage, name in files])


# --- Tenants ------------------------------------------------------------------


@transaction.atomic
def shortlist_toggle(*, user: User, listing: Listing) -> bool:
    """Adds the listing to the user's shortlist, or removes it; True when added."""
    deleted, _rows = Shortlist.objects.filter(user=user, listing=listing).delete()
    if deleted:
        return False
    _entry, created = Shortlist.objects.get_or_create(user=user, listing=listing)
    if created:
        count_event("shortlist", listing.pk)
    return True


@transaction.atomic
def listing_report(*, listing: Listing, reporter: User, form) -> ListingReport:
    """Files a report for staff; a second open report by the same person is merged."""
    if reporter.pk == listing.owner_id:
        raise PermissionDenied
    existing = ListingReport.objects.filter(
        listing=listing, reporter=reporter, status=ListingReport.Status.OPEN
    ).first()
    if existing is not None:
        extra = form.cleaned_data.get("details", "").strip()
        if extra:
            existing.details = f"{existing.details}\n\n{extra}".strip()[:2000]
            existing.save(update_fields=["details"])
        return existing
    report = form.save(commit=False)
    report.listing = listing
    report.reporter = reporter
    report.save()
    return report


@transaction.atomic
def report_resolve(*, report: ListingReport, upheld: bool, staff: User) -> None:
    """
    Closes a report. An upheld report takes the listing off the site (marked
    rented when that was the complaint) and flags the owner's account.
    """
    if report.status != ListingReport.Status.OPEN:
        return
    report.status = (
        ListingReport.Status.UPHELD if upheld else ListingReport.Status.DISMISSED
    )
    report.resolved_by = staff
    report.resolved_at = timezone.now()
    report.save(update_fields=["status", "resolved_by", "resolved_at"])
    if not upheld:
        return
    listing = report.listing
    if report.reason == ListingReport.Reason.RENTED:
        if listing.is_published:
            listing_mark_rented(listing=listing)
        return
    if listing.is_published:
        listing.status = Listing.Status.ARCHIVED
        listing.save(update_fields=["status", "updated_at"])
    user_flag(
        user=listing.owner,
        reason=_("Report upheld: %(reason)s") % {"reason": report.get_reason_display()},
    )
    bump_version()
