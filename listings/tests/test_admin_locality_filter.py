"""The listing admin's locality filter: one box to type in, not 74 links."""

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from listings.models import Locality
from listings.tests.factories import ListingFactory, locality

CHANGELIST = reverse("admin:listings_listing_changelist")


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


@pytest.mark.django_db
def test_the_filter_is_one_box_with_every_locality_to_pick(staff_client):
    html = staff_client.get(CHANGELIST).content.decode()
    datalist = html[html.index('<datalist id="locality-filter-options">') :]
    datalist = datalist[: datalist.index("</datalist>")]
    options = re.findall(r'<option value="([a-z0-9-]+)">', datalist)
    assert len(options) == Locality.objects.count() >= 70
    assert 'list="locality-filter-options"' in html
    assert len(re.findall(r'href="\?locality(=|__id)[^"]*"', html)) == 0
    assert "locality__id__exact" not in html


@pytest.mark.django_db
@pytest.mark.parametrize("typed", ["jhamsikhel", "Jhamsikhel", " jhamsikhel "])
def test_filtering_by_a_slug_or_a_name_typed_in_full(staff_client, typed):
    ListingFactory(title="Flat in Jhamsikhel", locality=locality("jhamsikhel"))
    ListingFactory(title="Flat in Thamel", locality=locality("thamel"))
    html = staff_client.get(CHANGELIST, {"locality": typed}).content.decode()
    assert "Flat in Jhamsikhel" in html
    assert "Flat in Thamel" not in html
    assert "All localities" in html


@pytest.mark.django_db
def test_an_unknown_locality_shows_nothing_rather_than_everything(staff_client):
    ListingFactory(title="Flat in Thamel", locality=locality("thamel"))
    response = staff_client.get(CHANGELIST, {"locality": "atlantis"})
    assert response.status_code == 200
    assert "Flat in Thamel" not in response.content.decode()


@pytest.mark.django_db
def test_the_box_keeps_the_other_filters_and_the_search(staff_client):
    html = staff_client.get(
        CHANGELIST, {"status__exact": "published", "q": "flat"}
    ).content.decode()
    form = html[html.index('class="locality-filter"') :]
    form = form[: form.index("</form>")]
    assert '<input type="hidden" name="status__exact" value="published">' in form
    assert '<input type="hidden" name="q" value="flat">' in form


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_staff_types_a_locality_and_sees_only_its_listings(
    page, live_server, login_as, staff
):
    ListingFactory(title="Flat in Jhamsikhel", locality=locality("jhamsikhel"))
    ListingFactory(title="Flat in Thamel", locality=locality("thamel"))
    page.set_viewport_size({"width": 1280, "height": 900})
    login_as(page, staff)
    page.goto(f"{live_server.url}{CHANGELIST}?status__exact=published")
    box = page.get_by_label("Type a locality and press Filter")
    box.press_sequentially("jhamsikhel")
    box.press("Enter")
    page.wait_for_load_state()
    expect(page.get_by_role("link", name="Flat in Jhamsikhel")).to_be_visible()
    expect(page.get_by_role("link", name="Flat in Thamel")).to_have_count(0)
    assert "status__exact=published" in page.url
    page.get_by_role("link", name="All localities").click()
    expect(page.get_by_role("link", name="Flat in Thamel")).to_be_visible()
