import pytest
from django.urls import reverse
from playwright.sync_api import expect

from accounts.tests.factories import UserFactory
from visits.models import Visit
from visits.slots import format_visit_time
from visits.tests.factories import ListingFactory, open_every_day


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_tenant_books_owner_confirms_and_both_see_the_confirmed_visit(
    page, browser, browser_context_args, live_server, login_as
):
    owner = UserFactory(role="owner", full_name="Sita Shrestha", phone="+9779841234567")
    tenant = UserFactory(role="tenant", full_name="Ram Thapa")
    listing = open_every_day(
        ListingFactory(owner=owner, title="Bright 2BHK in Jhamsikhel")
    )

    # The tenant picks the first free slot and asks for a visit.
    login_as(page, tenant)
    page.goto(
        live_server.url + reverse("visits:book", kwargs={"listing_pk": listing.pk})
    )
    expect(page.get_by_role("heading", name="Book a visit")).to_be_visible()
    page.locator(".slot-option").first.click()
    page.get_by_label("A short note to the owner").fill("Two of us, after office.")
    page.get_by_role("button", name="Request this visit").click()
    expect(page.get_by_test_id("visit-status")).to_have_text("Waiting for confirmation")
    expect(
        page.get_by_text("Phone number shown once the visit is confirmed.")
    ).to_be_visible()
    visit = Visit.objects.get()

    # The owner sees the request in the notifications and confirms it.
    owner_context = browser.new_context(**browser_context_args)
    owner_page = owner_context.new_page()
    login_as(owner_page, owner)
    owner_page.goto(live_server.url + reverse("accounts:notifications"))
    owner_page.get_by_role("link", name="Ram asks to visit").click()
    expect(owner_page.get_by_test_id("visit-summary")).to_contain_text(
        "Two of us, after office."
    )
    owner_page.get_by_role("button", name="Confirm visit").click()
    expect(owner_page.get_by_test_id("visit-status")).to_have_text("Confirmed")
    owner_page.goto(live_server.url + reverse("visits:schedule"))
    expect(owner_page.get_by_test_id("visit-card")).to_contain_text("Confirmed")
    expect(owner_page.get_by_test_id("visit-card")).to_contain_text(
        format_visit_time(visit.slot.starts_at)
    )

    # The tenant now sees the confirmed visit with the owner's phone number.
    page.goto(live_server.url + reverse("visits:list"))
    expect(page.get_by_test_id("unread-count")).to_have_text("1 unread")
    card = page.get_by_test_id("visit-card")
    expect(card).to_contain_text("Confirmed")
    card.get_by_role("link", name="Bright 2BHK in Jhamsikhel").click()
    expect(page.get_by_test_id("visit-status")).to_have_text("Confirmed")
    expect(page.get_by_test_id("owner-phone")).to_have_text("+9779841234567")
    expect(page.get_by_test_id("visit-history")).to_contain_text("Confirmed")
    assert page.url.endswith(visit.get_absolute_url())
    owner_context.close()
