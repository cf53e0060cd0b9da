from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.utils import timezone

from accounts.tests.factories import UserFactory
from listings import services
from listings.models import Listing, ListingReport, Shortlist
from listings.tests.factories import ListingFactory, photo_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Runs a service and then its after-commit side effects (emails)."""

    def run(service, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return service(**kwargs)

    return run


def draft(**kwargs):
    return ListingFactory(status=Listing.Status.DRAFT, **kwargs)


def test_new_owners_listing_goes_to_review(mailbox, committed):
    listing = draft()
    committed(services.listing_submit, listing=listing)
    listing.refresh_from_db()
    assert listing.status == Listing.Status.PENDING
    assert listing.published_at is None
    assert mailbox == []


def test_trusted_owners_listing_publishes_directly_for_60_days(mailbox, committed):
    owner = UserFactory(role="owner", is_trusted_owner=True)
    listing = draft(owner=owner)
    committed(services.listing_submit, listing=listing)
    listing.refresh_from_db()
    assert listing.status == Listing.Status.PUBLISHED
    assert listing.expires_at - listing.published_at == timedelta(days=60)
    assert len(mailbox) == 1 and "is live" in mailbox[0].subject


def test_owner_without_verified_email_cannot_publish():
    listing = draft(owner=UserFactory(role="owner", email_verified=False))
    with pytest.raises(ValidationError, match="Verify your email"):
        services.listing_submit(listing=listing)
    listing.refresh_from_db()
    assert listing.status == Listing.Status.DRAFT


def test_shared_phone_flags_every_account_and_sends_to_review():
    owner = UserFactory(role="owner", phone="+9779841111111", is_trusted_owner=True)
    other = UserFactory(role="owner", phone="+9779841111111")
    listing = draft(owner=owner)
    services.listing_submit(listing=listing)
    owner.refresh_from_db()
    other.refresh_from_db()
    listing.refresh_from_db()
    assert owner.is_flagged and other.is_flagged
    assert "+9779841111111" in other.flag_reason
    assert listing.status == Listing.Status.PENDING


def test_approval_publishes_and_emails_owner(mailbox, committed):
    listing = ListingFactory(status=Listing.Status.PENDING)
    committed(services.listing_approve, listing=listing)
    listing.refresh_from_db()
    assert listing.is_published and listing.expires_at
    assert mailbox[0].to == [listing.owner.email]


def test_only_pending_listings_can_be_approved():
    with pytest.raises(ValidationError):
        services.listing_approve(listing=draft())


def test_rejection_reason_is_saved_and_emailed(mailbox, committed):
    listing = ListingFactory(status=Listing.Status.PENDING)
    committed(
        services.listing_reject, listing=listing, reason="Photos show another house."
    )
    listing.refresh_from_db()
    assert listing.status == Listing.Status.REJECTED
    assert listing.rejection_reason == "Photos show another house."
    assert "Photos show another house." in mailbox[0].body


def test_rejected_listing_can_be_fixed_and_resubmitted():
    listing = ListingFactory(status=Listing.Status.REJECTED)
    services.listing_submit(listing=listing)
    assert listing.status == Listing.Status.PENDING


def test_mark_rented_then_relist_by_trusted_owner_publishes_again():
    listing = ListingFactory(owner=UserFactory(role="owner", is_trusted_owner=True))
    services.listing_mark_rented(listing=listing)
    assert listing.status == Listing.Status.RENTED
    services.listing_relist(listing=listing)
    listing.refresh_from_db()
    assert listing.status == Listing.Status.PUBLISHED


def test_published_listing_cannot_be_relisted():
    with pytest.raises(ValidationError):
        services.listing_relist(listing=ListingFactory())


def test_expiry_reminder_is_sent_once_then_listing_expires(mailbox, committed):
    now = timezone.now()
    soon = ListingFactory(expires_at=now + timedelta(days=3))
    ListingFactory(expires_at=now + timedelta(days=30))
    assert committed(services.listings_send_expiry_reminders, now=now) == 1
    assert committed(services.listings_send_expiry_reminders, now=now) == 0
    assert "still available" in mailbox[0].subject
    assert committed(services.listings_expire, now=now + timedelta(days=4)) == 1
    soon.refresh_from_db()
    assert soon.status == Listing.Status.ARCHIVED
    assert "no longer shown" in mailbox[1].subject


def test_confirming_availability_extends_and_resets_reminder():
    now = timezone.now()
    listing = ListingFactory(expires_at=now + timedelta(days=2), reminder_sent_at=now)
    services.listing_confirm_available(listing=listing)
    listing.refresh_from_db()
    assert listing.expires_at > now + timedelta(days=59)
    assert listing.reminder_sent_at is None


def test_expire_command_reports_what_it_did(mailbox, committed):
    ListingFactory(expires_at=timezone.now() - timedelta(minutes=1))
    from io import StringIO

    out = StringIO()
    call_command("listings_expire", stdout=out)
    assert "Listings archived: 1" in out.getvalue()
    assert Listing.objects.filter(status=Listing.Status.ARCHIVED).count() == 1


def test_shortlist_toggle_adds_then_removes(tenant):
    listing = ListingFactory()
    assert services.shortlist_toggle(user=tenant, listing=listing) is True
    assert Shortlist.objects.filter(user=tenant, listing=listing).exists()
    assert services.shortlist_toggle(user=tenant, listing=listing) is False
    assert not Shortlist.objects.exists()


def test_upheld_scam_report_takes_listing_down_and_flags_owner(tenant, staff):
    listing = ListingFactory(owner=UserFactory(role="owner", is_trusted_owner=True))
    report = ListingReport.objects.create(
        listing=listing, reporter=tenant, reason=ListingReport.Reason.BROKER
    )
    services.report_resolve(report=report, upheld=True, staff=staff)
    listing.refresh_from_db()
    listing.owner.refresh_from_db()
    assert listing.status == Listing.Status.ARCHIVED
    assert listing.owner.is_flagged and not listing.owner.is_trusted_owner
    assert report.resolved_by == staff


def test_upheld_already_rented_report_marks_rented_without_flagging(tenant, staff):
    listing = ListingFactory()
    report = ListingReport.objects.create(
        listing=listing, reporter=tenant, reason=ListingReport.Reason.RENTED
    )
    services.report_resolve(report=report, upheld=True, staff=staff)
    listing.refresh_from_db()
    assert listing.status == Listing.Status.RENTED
    assert not listing.owner.is_flagged


def test_dismissed_report_changes_nothing(tenant, staff):
    listing = ListingFactory()
    report = ListingReport.objects.create(
        listing=listing, reporter=tenant, reason=ListingReport.Reason.SCAM
    )
    services.report_resolve(report=report, upheld=False, staff=staff)
    listing.refresh_from_db()
    assert listing.is_published
    assert report.status == ListingReport.Status.DISMISSED


def test_deleting_a_listing_removes_its_photo_files(django_capture_on_commit_callbacks):
    listing = ListingFactory()
    photo = services.photo_add(listing=listing, data=photo_bytes())
    storage, name = photo.large.storage, photo.large.name
    with django_capture_on_commit_callbacks(execute=True):
        services.listing_delete(listing=listing)
    assert not Listing.objects.filter(pk=listing.pk).exists()
    assert not storage.exists(name)


def test_deleting_the_cover_makes_the_next_photo_cover():
    listing = ListingFactory()
    first = services.photo_add(listing=listing, data=photo_bytes())
    second = services.photo_add(listing=listing, data=photo_bytes())
    services.photo_delete(photo=first)
    second.refresh_from_db()
    assert second.is_cover and second.position == 0


def test_photos_can_be_reordered_and_cover_changed():
    listing = ListingFactory()
    a, b, c = (services.photo_add(listing=listing, data=photo_bytes()) for _ in "abc")
    services.photo_move(photo=c, offset=-1)
    order = list(listing.photos.order_by("position").values_list("pk", flat=True))
    assert order == [a.pk, c.pk, b.pk]
    services.photo_make_cover(photo=b)
    assert list(listing.photos.filter(is_cover=True)) == [b]


def test_with_stats_counts_shortlists(tenant):
    listing = ListingFactory()
    Shortlist.objects.create(user=tenant, listing=listing)
    Shortlist.objects.create(user=UserFactory(), listing=listing)
    assert Listing.objects.with_stats().get(pk=listing.pk).shortlist_count == 2
