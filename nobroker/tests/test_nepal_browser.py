"""Journeys in a real browser: Nepali with BS dates, a saved search's alert,
the map's visible area, and nothing overflowing a 360 px phone in either
language."""

import datetime as dt
import re

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from accounts.tests.factories import UserFactory
from listings.tests.factories import ListingFactory, locality
from searches.services import ALERT_LAG, saved_search_alerts_run
from visits.tests.factories import open_every_day

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _no_overflow(page, name: str, tmp_path) -> None:
    page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, window.innerWidth]"
    )
    assert widths[0] <= widths[1], (name, widths)


def test_tenant_switches_to_nepali_and_books_a_visit_with_bs_dates(
    page, live_server, login_as, tmp_path
):
    owner = UserFactory(role="owner", full_name="Sita Shrestha")
    tenant = UserFactory(role="tenant", full_name="Ram Thapa")
    listing = open_every_day(ListingFactory(owner=owner, title="उज्यालो २ बीएचके"))
    login_as(page, tenant)
    page.get_by_test_id("language-switch").last.get_by_role("button").click()
    expect(page.locator("html")).to_have_attribute("lang", "ne")
    tenant.refresh_from_db()
    assert tenant.language == "ne"

    page.goto(live_server.url + reverse("visits:book", args=[listing.pk]))
    expect(page.get_by_role("heading", name="भेट बुक गर्नुहोस्")).to_be_visible()
    expect(page.locator(".slot-day__title").first).to_contain_text("वि.सं.")
    page.locator(".slot-option").first.click()
    page.get_by_role("button", name="यो भेटको अनुरोध गर्नुहोस्").click()
    expect(page.get_by_test_id("visit-status")).to_have_text("पुष्टि पर्खिरहेको")
    when = page.locator(".visit-summary__when")
    expect(when).to_contain_text("वि.सं.")
    # The BS date of the booked slot, in Nepali digits.
    expect(when).to_contain_text(
        re.compile("[०-९]+ (मंसिर|पुस|माघ|फागुन|चैत|वैशाख|जेठ|असार|साउन|भदौ|असोज|कात्तिक)")
    )
    page.set_viewport_size({"width": 360, "height": 780})
    _no_overflow(page, "visit-ne", tmp_path)


def test_saved_search_alert_email_links_to_the_new_listing(
    page, live_server, login_as, mailbox
):
    tenant = UserFactory(role="tenant")
    login_as(page, tenant)
    page.goto(live_server.url + reverse("listings:search") + "?q=flat&locality=thamel")
    page.get_by_text("Save this search and get alerts").click()
    page.get_by_label("Name this search").fill("Flats in Thamel")
    page.get_by_label("Alerts").select_option("instant")
    page.get_by_role("button", name="Save search").click()
    expect(page.get_by_test_id("saved-search")).to_contain_text("Flats in Thamel")

    listing = ListingFactory(
        locality=locality("thamel"),
        property_type="flat",
        title="Fresh flat near Thamel chowk",
        published_at=timezone.now() + dt.timedelta(seconds=1),
    )
    mailbox.clear()
    saved_search_alerts_run(now=timezone.now() + ALERT_LAG + dt.timedelta(seconds=5))
    assert len(mail.outbox) == 1
    link = re.search(
        r"http://\S+" + re.escape(listing.get_absolute_url()), mail.outbox[0].body
    )
    assert link, mail.outbox[0].body
    page.goto(link[0].replace("http://127.0.0.1:8000", live_server.url))
    expect(
        page.get_by_role("heading", name="Fresh flat near Thamel chowk")
    ).to_be_visible()


def test_map_view_searches_the_visible_area(page, live_server, settings):
    # Tiles from this server (any image will do), so the test needs no network.
    settings.MAP_TILE_URL = (
        live_server.url + "/static/vendor/leaflet/images/layers.png?{z}/{x}/{y}"
    )
    ListingFactory(locality=locality("thamel"), title="Thamel flat one")
    ListingFactory(locality=locality("thamel"), title="Thamel flat two")
    ListingFactory(locality=locality("bhaktapur"), title="Bhaktapur house")
    page.goto(live_server.url + reverse("listings:search"))
    page.get_by_test_id("map-view-link").click()
    expect(page.locator(".map--ready")).to_be_visible()
    expect(page.get_by_text("Bhaktapur house")).to_be_visible()
    markers = page.locator("path.leaflet-interactive")
    expect(markers).to_have_count(2)
    boxes = [markers.nth(i).bounding_box() for i in range(2)]
    west = min(boxes, key=lambda b: b["x"])
    for _ in range(3):
        page.mouse.dblclick(
            west["x"] + west["width"] / 2, west["y"] + west["height"] / 2
        )
        page.wait_for_timeout(400)
        boxes = [markers.nth(i).bounding_box() for i in range(markers.count())]
        west = min((b for b in boxes if b), key=lambda b: b["x"])
    page.get_by_role("button", name="Search this area").click()
    expect(page).to_have_url(re.compile(r"bbox="))
    expect(page.get_by_text("Thamel flat one")).to_be_visible()
    expect(page.get_by_text("Bhaktapur house")).to_have_count(0)


@pytest.mark.parametrize("language", ["en", "ne"])
def test_pages_fit_a_360_px_phone_in_both_languages(
    page, live_server, login_as, tmp_path, language
):
    tenant = UserFactory(role="tenant", language=language)
    listing = open_every_day(
        ListingFactory(title="Sunny flat with a long title near Jhamsikhel chowk")
    )
    login_as(page, tenant)
    page.set_viewport_size({"width": 360, "height": 780})
    for name, path in {
        "home": reverse("home"),
        "search": reverse("listings:search") + "?q=flat",
        "detail": listing.get_absolute_url(),
        "book": reverse("visits:book", args=[listing.pk]),
        "saved": reverse("searches:list"),
        "profile": reverse("accounts:profile"),
    }.items():
        page.goto(live_server.url + path)
        expect(page.locator("html")).to_have_attribute("lang", language)
        _no_overflow(page, f"{name}-{language}", tmp_path)
