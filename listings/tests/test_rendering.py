"""What the search page renders once and reuses, and what it writes per user."""

import pytest
from django.forms.renderers import DjangoTemplates
from django.http import QueryDict
from django.template.loader import render_to_string
from django.urls import reverse

from accounts.tests.factories import UserFactory
from listings import cards, services
from listings.forms import ListingForm, ReportForm, SearchForm, field_html
from listings.models import Listing, Shortlist
from listings.tests.factories import ListingFactory, photo_bytes

pytestmark = pytest.mark.django_db
SEARCH = reverse("listings:search")


@pytest.mark.parametrize(
    "query",
    [
        "",
        "type=flat&type=room&rent_min=10000&rent_max=40000&bedrooms=2"
        "&furnishing=full&parking=car&water_min=6&tenants=family&pets=on"
        "&available_by=2026-01-02&q=%3Cb%3E%22quoted%22&sort=rent_asc",
        "rent_min=-5&rent_max=lots&furnishing=castle&available_by=soon&sort=best",
    ],
)
def test_search_form_widgets_are_the_same_markup_as_djangos_templates(query):
    written = SearchForm(QueryDict(query))
    templated = SearchForm(QueryDict(query), renderer=DjangoTemplates())
    written.is_valid(), templated.is_valid()
    for name in written.fields:
        assert str(written[name]) == str(templated[name]), name
    for ours, theirs in zip(written["type"], templated["type"], strict=True):
        assert ours.tag() == theirs.tag()


FILTERS_AS_FIELDS = [
    "rent_min", "rent_max", "bedrooms", "water_min", "furnishing", "parking",
    "tenants", "available_by", "pets", "sort",
]  # fmt: skip


@pytest.mark.parametrize(
    "query",
    [
        "",
        "rent_min=10000&rent_max=40000&bedrooms=2&furnishing=full&parking=car"
        "&water_min=6&tenants=family&pets=on&available_by=2026-01-02&sort=rent_asc",
        "rent_min=-5&rent_max=lots&bedrooms=99&water_min=25&furnishing=castle"
        "&available_by=soon&sort=best",
    ],
)
def test_a_filter_is_written_as_the_field_template_writes_it(client, query):
    form = SearchForm(QueryDict(query))
    form.is_valid()
    if query.startswith("rent_min=-5"):
        assert form["rent_min"].errors and form["available_by"].errors
    page = client.get(f"{SEARCH}?{query}").content.decode()
    for name in FILTERS_AS_FIELDS:
        templated = render_to_string("includes/field.html", {"field": form[name]})
        assert field_html(form[name]) == templated, name
        assert templated.strip() in page, name


def test_a_field_with_help_text_errors_or_required_is_written_the_same():
    listing = ListingForm(
        data={"title": "<b>Flat</b>", "rent": "lots", "water_hours": "30"}
    )
    report = ReportForm(data={"reason": "castle"})  # radio buttons, one wrong
    for form in (listing, report):
        form.is_valid()
        for name in form.fields:
            templated = render_to_string("includes/field.html", {"field": form[name]})
            assert field_html(form[name]) == templated, name
    assert listing["rent"].errors and listing["locality"].errors
    assert any(listing[name].help_text for name in listing.fields)
    assert report["reason"].errors and 'type="radio"' in str(report["reason"])


def test_search_form_keeps_values_and_escapes_them():
    form = SearchForm(QueryDict("q=%3Cb%3Eflat&rent_max=30000&parking=bike"))
    form.is_valid()
    assert 'value="&lt;b&gt;flat"' in str(form["q"])
    assert 'value="30000"' in str(form["rent_max"])
    assert '<option value="bike" selected>' in str(form["parking"])


def test_a_result_card_is_reused_until_its_listing_changes(
    client, django_capture_on_commit_callbacks
):
    listing = ListingFactory(title="Before the edit")
    assert "Before the edit" in client.get(SEARCH).content.decode()
    # A change that bypasses the models' signals leaves the cached card alone:
    # another search (not cached itself) still shows the card rendered before.
    type(listing).objects.filter(pk=listing.pk).update(title="Not seen yet")
    html = client.get(SEARCH, {"sort": "rent_asc"}).content.decode()
    assert "Before the edit" in html and "Not seen yet" not in html
    listing.title = "After the edit"
    with django_capture_on_commit_callbacks(execute=True):
        listing.save()
    html = client.get(SEARCH, {"sort": "rent_desc"}).content.decode()
    assert "After the edit" in html and "Before the edit" not in html


def test_a_cached_card_still_shows_html_as_text(client):
    ListingFactory(title="<script>alert(1)</script> flat")
    for sort in ("newest", "rent_asc"):  # the second page reads the cached card
        html = client.get(SEARCH, {"sort": sort}).content.decode()
        assert "<script>alert(1)" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt; flat" in html


def test_the_heart_on_a_shared_card_is_each_users_own(client, tenant):
    listing = ListingFactory(title="Shared card")
    other = UserFactory(role="tenant", email_verified=True)
    Shortlist.objects.create(user=tenant, listing=listing)
    toggle = reverse("listings:shortlist_toggle", args=[listing.pk])

    anonymous = client.get(SEARCH).content.decode()
    assert "Log in to shortlist" in anonymous and toggle not in anonymous

    client.force_login(tenant)
    mine = client.get(SEARCH).content.decode()
    assert 'aria-pressed="true"' in mine and toggle in mine
    assert "Remove Shared card from shortlist" in mine

    client.force_login(other)
    theirs = client.get(SEARCH).content.decode()
    assert 'aria-pressed="false"' in theirs and 'aria-pressed="true"' not in theirs
    assert 'name="csrfmiddlewaretoken"' in theirs

    client.force_login(listing.owner)
    own = client.get(SEARCH).content.decode()
    assert "Shared card" in own and toggle not in own


def test_search_page_offers_every_locality_name(client):
    html = client.get(SEARCH).content.decode()
    assert '<option value="Jhamsikhel">Lalitpur</option>' in html
    assert '<option value="Thamel">Kathmandu</option>' in html


def test_a_card_shows_the_facts_tenants_ask_first():
    owner = UserFactory(role="owner", email_verified=False)
    flat = ListingFactory(
        owner=owner,
        title="Corner flat",
        rent=150_000,
        negotiable=True,
        bedrooms=1,
        water_hours=1,
        bike_parking=2,
        car_parking=0,
    )
    html = cards.card_body(flat)
    assert f'href="{flat.get_absolute_url()}"' in html
    assert "<strong>Rs. 1,50,000</strong>" in html and "Negotiable" in html
    assert "Flat · 1 bedroom · Thamel" in html
    assert "Water 1 hr/day" in html and "2 bikes" in html
    assert "No car parking" in html and "No photos yet" in html
    assert "Verified owner" not in html

    shop = ListingFactory(
        property_type="shop", rent=40_000, bedrooms=0, water_hours=12, car_parking=1
    )
    html = cards.card_body(shop)
    assert "Shop / office · Thamel" in html and "bedroom" not in html
    assert "Water 12 hrs/day" in html and "1 car" in html
    assert "Verified owner" in html and "Negotiable" not in html


def test_a_card_shows_the_cover_photo_in_every_size():
    listing = ListingFactory(title='Flat "with" quotes')
    services.photo_add(listing=listing, data=photo_bytes(), name="front.jpg")
    listing = Listing.objects.for_result_cards().get(pk=listing.pk)
    html = cards.card_body(listing)
    cover = listing.cover
    assert f'src="{cover.medium.url}"' in html
    assert (
        f'srcset="{cover.thumb.url} 400w, {cover.medium.url} 800w, '
        f'{cover.large.url} 1600w"'
    ) in html
    assert 'alt="Flat &quot;with&quot; quotes"' in html
    assert 'loading="lazy"' in html
