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


def test_listing_search_finds_words_owners_and_ids(staff_client):
    owner = UserFactory(
        role="owner", email="hari.owner@example.np", full_name="Hari Prasad"
    )
    furnished = ListingFactory(title="Furnished flat near the ring road")
    by_owner = ListingFactory(owner=owner, title="Room in Kalanki")
    other = ListingFactory(title="Shop shutter on the main road")

    def found(term):
        html = staff_client.get(CHANGELIST, {"q": term}).content.decode()
        return {
            listing.title
            for listing in (furnished, by_owner, other)
            if listing.title in html
        }

    # Words match as prefixes, case aside ("furnish" finds "Furnished").
    assert found("furnish") == {furnished.title}
    assert found("hari.owner@example") == {by_owner.title}
    assert found("Hari Prasad") == {by_owner.title}
    assert found(str(other.pk)) == {other.title}
    assert found("nowhere-at-all") == set()


def test_listing_changelist_filters_by_open_reports(staff_client, tenant):
    reported = ListingFactory(title="Reported flat")
    dismissed = ListingFactory(title="Once reported flat")
    quiet = ListingFactory(title="Quiet flat")
    ListingReport.objects.create(listing=reported, reporter=tenant, reason="broker")
    ListingReport.objects.create(
        listing=dismissed,
        reporter=tenant,
        reason="scam",
        status=ListingReport.Status.DISMISSED,
    )
    html = staff_client.get(CHANGELIST, {"reported": "yes"}).content.decode()
    assert reported.title in html
    assert dismissed.title not in html and quiet.title not in html
    html = staff_client.get(CHANGELIST, {"reported": "no"}).content.decode()
    assert reported.title not in html
    assert dismissed.title in html and quiet.title in html


def test_listing_changelist_caps_its_count(staff_client, monkeypatch):
    from listings.admin import CappedPaginator

    monkeypatch.setattr(CappedPaginator, "MAX_COUNTED", 3)
    ListingFactory.create_batch(5)
    html = staff_client.get(CHANGELIST).content.decode()
    assert "3+ listings: add a filter or a search to see the rest" in html
    html = staff_client.get(CHANGELIST, {"q": "Sunny"}).content.decode()
    assert "3+ results" in html
    ListingFactory(title="Only one like this")
    html = staff_client.get(CHANGELIST, {"q": "Only one like this"}).content.decode()
    assert "1 result" in html and "1 listing" in html
