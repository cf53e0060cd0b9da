import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from accounts.tests.factories import UserFactory
from listings import services
from listings.models import Listing, ListingReport
from listings.tests.factories import ListingFactory, photo_bytes

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:listings_listing_changelist")


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def test_listing_changelist_filters_searches_and_previews_photos(staff_client):
    listing = ListingFactory(status="pending", title="Garden flat in Sanepa")
    services.photo_add(listing=listing, data=photo_bytes())
    ListingFactory(title="Other place")
    response = staff_client.get(CHANGELIST, {"status__exact": "pending", "q": "garden"})
    html = response.content.decode()
    assert "Garden flat in Sanepa" in html and "Other place" not in html
    assert listing.photos.get().thumb.url in html


def test_staff_approves_pending_listings_and_owner_is_emailed(
    staff_client, mailbox, django_capture_on_commit_callbacks
):
    listing = ListingFactory(status="pending")
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(
            CHANGELIST, {"action": "approve", ACTION_CHECKBOX_NAME: [listing.pk]}
        )
    listing.refresh_from_db()
    assert listing.status == Listing.Status.PUBLISHED
    assert mailbox[0].to == [listing.owner.email]


def test_staff_rejects_with_a_reason_that_is_emailed(
    staff_client, mailbox, django_capture_on_commit_callbacks
):
    listing = ListingFactory(status="pending")
    ask = staff_client.post(
        CHANGELIST, {"action": "reject", ACTION_CHECKBOX_NAME: [listing.pk]}
    )
    assert b"Reason (emailed to the owner)" in ask.content
    listing.refresh_from_db()
    assert listing.status == Listing.Status.PENDING
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(
            CHANGELIST,
            {
                "action": "reject",
                "apply": "1",
                "reason": "The photos are of another building.",
                ACTION_CHECKBOX_NAME: [listing.pk],
            },
        )
    listing.refresh_from_db()
    assert listing.status == Listing.Status.REJECTED
    assert "The photos are of another building." in mailbox[0].body


def test_staff_marks_owners_trusted(staff_client):
    listing = ListingFactory(status="pending")
    staff_client.post(
        CHANGELIST, {"action": "trust_owners", ACTION_CHECKBOX_NAME: [listing.pk]}
    )
    listing.owner.refresh_from_db()
    assert listing.owner.is_trusted_owner


def test_report_queue_uphold_flags_the_owner(staff_client, tenant):
    listing = ListingFactory(owner=UserFactory(role="owner", phone="+9779801234567"))
    report = ListingReport.objects.create(
        listing=listing, reporter=tenant, reason="scam"
    )
    url = reverse("admin:listings_listingreport_changelist")
    page = staff_client.get(url, {"status__exact": "open"})
    assert listing.title in page.content.decode()
    staff_client.post(url, {"action": "uphold", ACTION_CHECKBOX_NAME: [report.pk]})
    report.refresh_from_db()
    listing.owner.refresh_from_db()
    assert report.status == "upheld"
    assert listing.owner.is_flagged


def test_tenant_cannot_reach_the_moderation_admin(client, tenant):
    client.force_login(tenant)
    assert client.get(CHANGELIST).status_code == 302
