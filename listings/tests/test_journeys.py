import re

import pytest
from playwright.sync_api import expect

from accounts.tests.factories import UserFactory
from listings.models import Listing, ListingReport, Locality, Shortlist
from listings.tests.factories import photo_bytes

TITLE = "Sunny 2BHK flat with terrace"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_listing_from_creation_to_report(page, live_server, login_as, tmp_path):
    # A transactional test elsewhere may have flushed the migration's localities.
    Locality.objects.get_or_create(
        slug="jhamsikhel",
        defaults={
            "name": "Jhamsikhel",
            "district": "Lalitpur",
            "latitude": "27.67900",
            "longitude": "85.30700",
            "aliases": "Jhamel",
        },
    )
    owner = UserFactory(role="owner", email_verified=True, full_name="Ram Shrestha")
    staff = UserFactory(is_staff=True, is_superuser=True, email="staff@example.np")
    tenant = UserFactory(role="tenant", email="tenant@example.np")
    photo = tmp_path / "front-room.jpg"
    photo.write_bytes(photo_bytes("JPEG", (1200, 900)))

    # The owner lists a flat with a photo and submits it.
    login_as(page, owner)
    page.goto(f"{live_server.url}/rent/mine/new/")
    page.get_by_label("Title").fill(TITLE)
    page.get_by_label("Property type").select_option("flat")
    page.get_by_label("Description").fill(
        "Two bedrooms, a kitchen and a terrace looking at Swayambhu. Quiet lane."
    )
    page.get_by_label("Locality").select_option(label="Jhamsikhel")
    page.get_by_label("Monthly rent (NPR)").fill("32000")
    page.get_by_label("Water source").select_option("mixed")
    page.get_by_label("Water supply (hours per day)").fill("8")
    page.get_by_label("Electricity billing").select_option("submeter")
    page.get_by_label("Motorbike parking spaces").fill("2")
    page.get_by_label("Car parking spaces").fill("0")
    page.get_by_role("button", name="Save and add photos").click()
    expect(page.get_by_text("Draft saved")).to_be_visible()

    page.get_by_label("Add photos").set_input_files(str(photo))
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_text("1 photo(s) added.")).to_be_visible()
    expect(page.locator(".photo-manager .badge")).to_have_text("Cover")
    page.get_by_role("button", name="Submit for publication").click()
    expect(page.get_by_text("Sent for review")).to_be_visible()
    listing = Listing.objects.get(title=TITLE)
    assert listing.status == Listing.Status.PENDING

    # Staff approve it in the admin.
    page.context.clear_cookies()
    login_as(page, staff)
    page.goto(f"{live_server.url}/admin/listings/listing/?status__exact=pending")
    page.locator(f'input[name="_selected_action"][value="{listing.pk}"]').check()
    page.locator('select[name="action"]').select_option("approve")
    page.get_by_role("button", name="Run").click()
    expect(page.get_by_text("1 listing published")).to_be_visible()

    # A tenant finds it by filters, then by a word, shortlists and reports it.
    page.context.clear_cookies()
    login_as(page, tenant)
    page.goto(f"{live_server.url}/rent/")
    page.locator("summary", has_text="Filters and sort").click()
    page.get_by_label("Flat", exact=True).check()
    page.get_by_label("Rent up to (Rs.)").fill("35000")
    page.get_by_role("button", name="Show results").click()
    expect(page).to_have_url(re.compile(r"type=flat.*rent_max=35000"))
    expect(page.get_by_role("heading", name=TITLE)).to_be_visible()

    page.goto(f"{live_server.url}/rent/")
    page.get_by_role("searchbox").fill("terrace Jhamel")
    page.get_by_role("searchbox").press("Enter")
    expect(page.get_by_role("heading", name=TITLE)).to_be_visible()

    page.get_by_role("heading", name=TITLE).click()
    expect(page.get_by_role("heading", name=TITLE, level=1)).to_be_visible()
    expect(page.get_by_text("Verified owner").first).to_be_visible()
    page.get_by_role("button", name=f"Shortlist {TITLE}").click()
    expect(page.get_by_text("Added to your shortlist.")).to_be_visible()
    assert Shortlist.objects.filter(user=tenant, listing=listing).exists()

    page.get_by_role("link", name="Report this listing").click()
    page.get_by_label("A broker is asking for commission").check()
    page.get_by_label("What happened").fill("Someone called asking for a fee.")
    page.get_by_role("button", name="Send report").click()
    expect(page.get_by_text("Thank you.")).to_be_visible()
    report = ListingReport.objects.get()
    assert (report.listing, report.reporter, report.reason) == (
        listing,
        tenant,
        ListingReport.Reason.BROKER,
    )
