"""The three audiences see their numbers, in a real browser."""

import datetime as dt

import pytest
from playwright.sync_api import expect

from accounts.tests.factories import UserFactory
from listings.tests.factories import ListingFactory, locality
from nobroker import counting

PHONE = (
    "Mozilla/5.0 (Linux; Android 14; SM-A155F) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36"
)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_view_and_shortlist_reach_the_owner_staff_get_csv_anyone_the_index(
    browser, live_server, login_as, tmp_path
):
    from business.services import business_rollup
    from rentindex.services import forget_local, rent_index_build

    counting.reset_backend()
    store = counting.backend()
    if hasattr(store, "client"):
        for key in store.client.scan_iter(match=store.prefix + "*"):
            store.client.delete(key)
    baluwatar = locality("baluwatar")
    owner = UserFactory(role="owner", email_verified=True, full_name="Ram Shrestha")
    tenant = UserFactory(role="tenant", email_verified=True)
    staff = UserFactory(is_staff=True, is_superuser=True, email_verified=True)
    listing = ListingFactory(owner=owner, locality=baluwatar, title="Bright flat")
    for rent in range(20_000, 30_000, 1_000):  # ten more: a published median
        ListingFactory(locality=baluwatar, rent=rent)
    # A phone browser's user agent: headless Chrome says it is a bot.
    context = browser.new_context(
        user_agent=PHONE, viewport={"width": 390, "height": 844}
    )
    page = context.new_page()

    # A tenant looks at the owner's listing and shortlists it.
    login_as(page, tenant)
    page.goto(f"{live_server.url}{listing.get_absolute_url()}")
    page.get_by_role("button", name="Shortlist").first.click()
    page.wait_for_load_state()

    # The minute's flush runs; the owner sees one viewer and one shortlist.
    counting.flush()
    page.context.clear_cookies()
    login_as(page, owner)
    page.goto(f"{live_server.url}/rent/mine/")
    page.get_by_role("link", name="Performance").first.click()
    expect(page.locator(".chart__legend")).to_contain_text("Viewers: 1")
    shortlisted = page.get_by_role("row", name="Shortlisted")
    expect(shortlisted.get_by_role("cell").first).to_have_text("1")

    # Staff download the sign-ups CSV from the dashboard.
    business_rollup(first=dt.date.today() - dt.timedelta(days=1), last=dt.date.today())
    page.context.clear_cookies()
    login_as(page, staff)
    page.goto(f"{live_server.url}/staff/business/")
    with page.expect_download() as download:
        page.locator("#t-signups").locator("..").get_by_role("link", name="CSV").click()
    path = tmp_path / "signups.csv"
    download.value.save_as(path)
    assert path.read_text().splitlines()[0].startswith("day,signups_tenant")

    # Anyone opens the rent index and finds Baluwatar's median.
    rent_index_build()
    forget_local()
    page.context.clear_cookies()
    page.goto(f"{live_server.url}/rent/")
    page.get_by_role("link", name="What is a fair rent? See the rent index").click()
    row = page.get_by_role("row", name="Baluwatar")
    expect(row).to_contain_text("Rs. 25,000")
    context.close()
