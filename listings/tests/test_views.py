from datetime import date, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.tests.factories import UserFactory
from listings import services
from listings.models import Listing, ListingReport, Locality, Shortlist
from listings.tests.factories import ListingFactory, photo_bytes
from listings.tests.test_photos import png_claiming_size

pytestmark = pytest.mark.django_db
SEARCH = reverse("listings:search")


def titles(response) -> list[str]:
    return [listing.title for listing in response.context["listings"]]


def locality(slug: str) -> Locality:
    return Locality.objects.get(slug=slug)


def valid_listing_data(**changes) -> dict:
    data = {
        "title": "Sunny 2BHK in Jhamsikhel",
        "property_type": "flat",
        "description": "Two bedrooms, a balcony and water every morning.",
        "locality": locality("jhamsikhel").pk,
        "rent": "30000",
        "deposit": "60000",
        "water_source": "municipal",
        "water_hours": "6",
        "electricity_billing": "submeter",
        "bike_parking": "2",
        "car_parking": "0",
        "bedrooms": "2",
        "bathrooms": "1",
        "bathroom_type": "attached",
        "floor": "1",
        "furnishing": "semi",
        "preferred_tenants": "anyone",
        "minimum_stay_months": "6",
        "available_from": "2026-12-01",
    }
    data.update(changes)
    return data


def valid_listing_fields() -> dict:
    """The model values matching valid_listing_data(), for an unchanged form."""
    return {
        "title": "Sunny 2BHK in Jhamsikhel",
        "description": "Two bedrooms, a balcony and water every morning.",
        "locality": locality("jhamsikhel"),
        "rent": 30000,
    }


# --- Search ---------------------------------------------------------------------


def test_search_filters_by_several_localities(client):
    ListingFactory(title="In Sanepa", locality=locality("sanepa"))
    ListingFactory(title="In Thamel", locality=locality("thamel"))
    ListingFactory(title="In Boudha", locality=locality("boudha"))
    response = client.get(SEARCH, {"locality": ["sanepa", "boudha"]})
    assert sorted(titles(response)) == ["In Boudha", "In Sanepa"]


@pytest.mark.parametrize(
    "params",
    [
        {"locality": "Baneswor"},
        {"locality": "baneshwor"},
        {"q": "flat in baneswor"},
        {"q": "Old Baneshwor"},
    ],
)
def test_alternative_spellings_of_a_locality_match(client, params):
    ListingFactory(title="Old one", locality=locality("old-baneshwor"))
    ListingFactory(title="Elsewhere", locality=locality("thamel"))
    response = client.get(SEARCH, params)
    assert "Old one" in titles(response)
    assert "Elsewhere" not in titles(response)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"type": ["room", "house"]}, {"room", "house"}),
        ({"rent_min": "20000", "rent_max": "40000"}, {"mid"}),
        ({"bedrooms": "3"}, {"house"}),
        ({"furnishing": "full"}, {"house"}),
        ({"parking": "car"}, {"house"}),
        ({"parking": "bike"}, {"mid", "house"}),
        ({"water_min": "12"}, {"room"}),
        ({"tenants": "students"}, {"room", "mid"}),
        ({"pets": "1"}, {"house"}),
        ({"available_by": "2026-12-10"}, {"room", "mid"}),
        ({"q": "geyser"}, {"mid"}),
        ({"q": "GEYS"}, {"mid"}),
    ],
)
def test_each_filter_narrows_the_results(client, params, expected):
    ListingFactory(
        title="room",
        property_type="room",
        rent=8000,
        bedrooms=1,
        bike_parking=0,
        water_hours=24,
        preferred_tenants="students",
        available_from=date(2026, 12, 1),
    )
    ListingFactory(
        title="mid",
        rent=30000,
        bedrooms=2,
        description="Has a geyser and a balcony.",
        available_from=date(2026, 12, 5),
    )
    ListingFactory(
        title="house",
        property_type="house",
        rent=90000,
        bedrooms=4,
        furnishing="full",
        car_parking=1,
        pets_allowed=True,
        preferred_tenants="family",
        available_from=date(2027, 1, 15),
    )
    response = client.get(SEARCH, params)
    assert response.status_code == 200
    assert set(titles(response)) == expected


@pytest.mark.parametrize(
    ("sort", "expected"),
    [("rent_asc", ["cheap", "dear"]), ("rent_desc", ["dear", "cheap"])],
)
def test_results_sort_by_rent(client, sort, expected):
    ListingFactory(title="dear", rent=50000)
    ListingFactory(title="cheap", rent=9000)
    assert titles(client.get(SEARCH, {"sort": sort})) == expected


def test_newest_listings_come_first_by_default(client):
    old = ListingFactory(title="old")
    ListingFactory(title="new")
    Listing.objects.filter(pk=old.pk).update(
        published_at=old.published_at - timedelta(days=3)
    )
    assert titles(client.get(SEARCH)) == ["new", "old"]


def test_search_shows_only_published_listings(client):
    ListingFactory(title="live")
    for status in ("draft", "pending", "rejected", "rented", "archived"):
        ListingFactory(title=status, status=status)
    assert titles(client.get(SEARCH)) == ["live"]


@pytest.mark.parametrize(
    "params",
    [
        {"page": "abc"},
        {"page": "-3"},
        {"page": "99999999999999999999"},
        {"rent_min": "cheap"},
        {"rent_max": "1e9"},
        {"sort": "price; DROP TABLE"},
        {"bedrooms": "many"},
        {"water_min": "99"},
        {"available_by": "tomorrow"},
        {"type": "castle"},
        {"locality": "atlantis"},
        {"q": "x" * 500},
        {"q": "&|!():*'\\"},
        {"pets": "maybe"},
        {"furnishing": "<script>"},
    ],
)
def test_bad_query_parameters_never_fail(client, params):
    ListingFactory()
    response = client.get(SEARCH, params)
    assert response.status_code == 200
    assert "<script>" not in response.content.decode().split("</header>", 1)[1]


@pytest.mark.parametrize(
    "url",
    [
        "/rent/99999999999999999999/x/",
        "/rent/99999999999999999999/",
        "/rent/report/99999999999999999999/",
        "/rent/mine/99999999999999999999/edit/",
    ],
)
def test_out_of_range_ids_are_404_not_500(client, tenant, url):
    client.force_login(tenant)
    assert client.get(url).status_code == 404


def test_bad_parameters_are_explained(client):
    response = client.get(SEARCH, {"page": "abc", "rent_min": "cheap"})
    assert b"Part of your search was left out" in response.content
    assert "Page “abc” does not exist" in response.content.decode()


def test_huge_result_sets_are_not_counted_exactly(client, monkeypatch):
    monkeypatch.setattr("listings.search.MAX_RESULTS", 4)
    monkeypatch.setattr("listings.search.MAX_PAGE", 2)
    monkeypatch.setattr("listings.search.PAGE_SIZE", 2)
    monkeypatch.setattr("listings.views.MAX_RESULTS", 4)
    ListingFactory.create_batch(6)
    response = client.get(SEARCH)
    assert response.context["result"]["capped"] is True
    assert b"4+ places" in response.content
    deep = client.get(SEARCH, {"page": "7"})
    assert deep.status_code == 200
    assert deep.context["result"]["page"] == 2
    assert "Only the first" in deep.content.decode()


def test_pages_follow_each_other_without_overlap(client, monkeypatch):
    monkeypatch.setattr("listings.search.PAGE_SIZE", 2)
    ListingFactory.create_batch(5)
    seen = []
    for page in (1, 2, 3):
        seen += titles(client.get(SEARCH, {"page": page}))
    assert len(seen) == len(set(seen)) == 5


def test_empty_results_suggest_what_to_relax(client):
    ListingFactory(locality=locality("thamel"), rent=20000)
    response = client.get(SEARCH, {"locality": "thamel", "rent_max": "5000"})
    assert b"No places match this search" in response.content
    assert b"Drop the maximum rent" in response.content
    assert b'href="/rent/?locality=thamel"' in response.content


def test_search_page_query_count_does_not_grow_with_results(
    client, tenant, django_assert_max_num_queries
):
    client.force_login(tenant)
    ListingFactory.create_batch(2)
    # Warms the locality cache and the header's counts, showing no cards.
    client.get(SEARCH, {"type": "shop"})
    # session, user, capped count, the page's listings, shortlist ids, and for
    # cards not yet cached their listings whole and their covers (the
    # header's counts are cached by the first request)
    with django_assert_max_num_queries(7) as few:
        client.get(SEARCH, {"type": "flat"})
    ListingFactory.create_batch(25)
    with django_assert_max_num_queries(7) as many:
        response = client.get(SEARCH, {"type": "flat", "sort": "rent_asc"})
    assert len(response.context["listings"]) == 20
    assert len(many.captured_queries) == len(few.captured_queries)
    # Another search showing the same twenty: their cards come from the cache.
    with django_assert_max_num_queries(5):
        response = client.get(SEARCH, {"sort": "rent_asc"})
    assert len(response.context["listings"]) == 20


def test_free_text_finds_the_words_of_an_edited_listing_not_the_old_ones(client):
    listing = ListingFactory(title="Quiet flat", description="Near a temple.")
    listing.title = "Flat with a rooftop garden"
    listing.description = "Beside the stupa."
    listing.save()
    ListingFactory(title="Other flat", description="Rooftop for drying clothes.")

    def found(word):
        return titles(client.get(SEARCH, {"q": word}))

    assert found("garden") == ["Flat with a rooftop garden"]
    assert found("stupa") == ["Flat with a rooftop garden"]
    assert found("temple") == []
    assert sorted(found("rooftop")) == ["Flat with a rooftop garden", "Other flat"]


def test_search_results_are_cached_and_invalidated_by_a_change(
    client, django_assert_num_queries, django_capture_on_commit_callbacks, settings
):
    # The results' own cache, under the whole-page cache (tested in
    # nobroker/tests/test_page_cache.py), which would answer first.
    settings.PAGE_CACHE_SECONDS = 0
    listing = ListingFactory(title="Before the edit")
    client.get(SEARCH)
    with django_assert_num_queries(0):
        cached = client.get(SEARCH)
    assert titles(cached) == ["Before the edit"]
    listing.title = "After the edit"
    with django_capture_on_commit_callbacks(execute=True):
        listing.save()
    assert titles(client.get(SEARCH)) == ["After the edit"]


def test_card_shows_rent_the_nepali_way_and_facts(client):
    ListingFactory(rent=150000, water_hours=4, bike_parking=2, car_parking=1)
    html = client.get(SEARCH).content.decode()
    assert "Rs. 1,50,000" in html
    assert "Water 4 hrs/day" in html
    assert "2 bikes" in html and "1 car" in html
    assert "Verified owner" in html


def test_search_results_carry_what_the_page_needs_and_cards_come_whole(client):
    shown = ListingFactory(title="Flat by the stupa", rent=25000)
    response = client.get(SEARCH)
    (ref,) = response.context["listings"]
    # The cached result is a few columns, not the model (listings.cards.ListingRef).
    assert not isinstance(ref, Listing)
    assert (ref.pk, ref.title, ref.owner_id, ref.locality_id) == (
        shown.pk,
        shown.title,
        shown.owner_id,
        shown.locality_id,
    )
    assert ref.get_absolute_url() == shown.get_absolute_url()
    html = response.content.decode()
    assert f'href="{shown.get_absolute_url()}"' in html
    assert "Rs. 25,000" in html


def test_a_listing_deleted_since_its_search_was_cached_leaves_no_card(db):
    from listings import cache as listing_cache
    from listings.cards import ListingRef

    kept, gone = ListingFactory.create_batch(2)
    refs = [
        ListingRef(item.pk, item.slug, item.title, item.owner_id, item.locality_id)
        for item in (kept, gone)
    ]
    Listing.objects.filter(pk=gone.pk).delete()
    bodies = listing_cache.card_bodies(refs)
    assert [ref.pk for ref, _ in bodies] == [kept.pk]
    assert kept.title in bodies[0][1]


def test_home_shows_newest_listings_or_an_honest_empty_state(client):
    assert b"Be among the first" in client.get("/").content
    ListingFactory(title="Fresh flat in Thamel")
    from django.core.cache import cache

    from nobroker import recent

    # The factory's listing bumps no version: forget the cached pages, in
    # Redis and in this process's copy of them.
    cache.clear()
    recent.clear_all()
    html = client.get("/").content.decode()
    assert "Fresh flat in Thamel" in html
    assert "Be among the first" not in html


# --- Detail -------------------------------------------------------------------


def test_detail_shows_facts_owner_and_canonical_url(client):
    owner = UserFactory(role="owner", full_name="Ram Bahadur Shrestha")
    listing = ListingFactory(
        owner=owner,
        electricity_billing="owner_rate",
        electricity_rate="15.00",
        water_hours=8,
    )
    html = client.get(listing.get_absolute_url()).content.decode()
    assert "Ram" in html and "Shrestha" not in html
    assert "Verified owner" in html and "Member since" in html
    assert "Rs. 15.00 per unit" in html
    assert (
        f'rel="canonical" href="http://testserver{listing.get_absolute_url()}"' in html
    )
    assert "8 hours a day" in html


def test_detail_fetches_nothing_from_elsewhere_without_a_tile_url(client):
    listing = ListingFactory()
    html = client.get(listing.get_absolute_url()).content.decode()
    assert "tile" not in html.lower()


def test_stale_slug_redirects_permanently(client):
    listing = ListingFactory(title="Old title")
    listing.title = "New title"
    listing.slug = Listing.slug_for(listing.title)
    listing.save()
    response = client.get(f"/rent/{listing.pk}/old-title/")
    assert response.status_code == 301
    assert response["Location"] == listing.get_absolute_url()
    assert client.get(f"/rent/{listing.pk}/").status_code == 301


def test_html_in_title_and_description_is_shown_as_text(client):
    listing = ListingFactory(
        title="<script>alert(1)</script> flat",
        description='<img src=x onerror="alert(2)"> nice',
    )
    for url in (listing.get_absolute_url(), SEARCH):
        html = client.get(url, follow=True).content.decode()
        assert "<script>alert(1)" not in html
        assert "<img src=x" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_detail_counts_views_but_not_the_owners(client, owner):
    from nobroker import counting

    listing = ListingFactory(owner=owner)
    browser = {"HTTP_USER_AGENT": "Mozilla/5.0 (Linux; Android 14) Chrome/131.0"}
    client.get(listing.get_absolute_url(), **browser)
    client.force_login(owner)
    client.get(listing.get_absolute_url(), **browser)
    counting.flush()
    listing.refresh_from_db()
    assert listing.view_count == 1


def test_detail_is_cached_and_invalidated_by_an_edit(
    client, owner, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    listing = ListingFactory(owner=owner, title="First title")
    client.get(listing.get_absolute_url())
    with django_assert_max_num_queries(1):  # only the view counter
        client.get(listing.get_absolute_url())
    client.force_login(owner)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("listings:edit", args=[listing.pk]),
            valid_listing_data(
                title="First title", description=listing.description, rent="41000"
            ),
        )
    client.logout()
    assert b"Rs. 41,000" in client.get(listing.get_absolute_url()).content


def test_detail_includes_owner_card_actions_and_similar_listings(client):
    listing = ListingFactory(locality=locality("sanepa"))
    ListingFactory(title="Neighbour flat", locality=locality("jhamsikhel"))
    ListingFactory(title="Far flat", locality=locality("nagarkot"))
    response = client.get(listing.get_absolute_url())
    assert "includes/listing_actions.html" in [t.name for t in response.templates]
    html = response.content.decode()
    assert "Neighbour flat" in html and "Far flat" not in html


# --- Permissions ------------------------------------------------------------------


OWNER_URLS = [
    ("get", "listings:edit"),
    ("get", "listings:photos"),
    ("get", "listings:delete"),
    ("post", "listings:delete"),
]


@pytest.mark.parametrize(("method", "name"), OWNER_URLS)
def test_other_owner_gets_404_on_owner_pages(client, other_owner, method, name):
    listing = ListingFactory()
    client.force_login(other_owner)
    response = getattr(client, method)(reverse(name, args=[listing.pk]))
    assert response.status_code == 404
    assert Listing.objects.filter(pk=listing.pk).exists()


@pytest.mark.parametrize("action", ["submit", "rented", "relist", "still-available"])
def test_other_owner_cannot_change_status(client, other_owner, action):
    listing = ListingFactory()
    client.force_login(other_owner)
    response = client.post(reverse("listings:action", args=[listing.pk, action]))
    assert response.status_code == 404
    listing.refresh_from_db()
    assert listing.is_published


def test_other_owner_cannot_touch_photos(client, other_owner):
    listing = ListingFactory()
    photo = services.photo_add(listing=listing, data=photo_bytes())
    client.force_login(other_owner)
    url = reverse("listings:photo_action", args=[listing.pk, photo.pk, "delete"])
    assert client.post(url).status_code == 404
    assert listing.photos.count() == 1


@pytest.mark.parametrize("status", ["draft", "pending", "rejected", "archived"])
def test_only_the_owner_sees_an_unpublished_listing(
    client, owner, other_owner, staff, status
):
    listing = ListingFactory(owner=owner, status=status)
    url = listing.get_absolute_url()
    assert client.get(url).status_code == 404
    for someone in (other_owner, staff):
        client.force_login(someone)
        assert client.get(url).status_code == 404
    client.force_login(owner)
    assert client.get(url).status_code == 200


def test_anonymous_is_sent_to_login_for_owner_and_tenant_pages(client):
    listing = ListingFactory()
    for url in (
        reverse("listings:mine"),
        reverse("listings:create"),
        reverse("listings:edit", args=[listing.pk]),
        reverse("listings:shortlist"),
        reverse("listings:report", args=[listing.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:login"))


def test_create_ignores_posted_owner_and_status(client, owner, other_owner):
    client.force_login(owner)
    response = client.post(
        reverse("listings:create"),
        valid_listing_data(owner=other_owner.pk, status="published", view_count=999),
    )
    assert response.status_code == 302
    listing = Listing.objects.get()
    assert listing.owner == owner
    assert listing.status == Listing.Status.DRAFT
    assert listing.view_count == 0


def test_edit_ignores_posted_owner_and_status(client, owner, other_owner):
    listing = ListingFactory(owner=owner, status="pending")
    client.force_login(owner)
    client.post(
        reverse("listings:edit", args=[listing.pk]),
        valid_listing_data(owner=other_owner.pk, status="published"),
    )
    listing.refresh_from_db()
    assert listing.owner == owner and listing.status == "pending"
    assert listing.title == "Sunny 2BHK in Jhamsikhel"


def test_new_words_on_a_published_listing_go_back_to_review(client, owner):
    listing = ListingFactory(owner=owner, **valid_listing_fields())
    client.force_login(owner)
    client.post(
        reverse("listings:edit", args=[listing.pk]),
        valid_listing_data(description="Call my agent for the commission."),
    )
    listing.refresh_from_db()
    assert listing.status == Listing.Status.PENDING


def test_rent_change_on_a_published_listing_stays_published(client, owner):
    listing = ListingFactory(owner=owner, **valid_listing_fields())
    client.force_login(owner)
    client.post(
        reverse("listings:edit", args=[listing.pk]), valid_listing_data(rent=28000)
    )
    listing.refresh_from_db()
    assert listing.is_published and listing.rent == 28000


def test_trusted_owner_edits_stay_published(client):
    owner = UserFactory(role="owner", is_trusted_owner=True)
    listing = ListingFactory(owner=owner, **valid_listing_fields())
    client.force_login(owner)
    client.post(
        reverse("listings:edit", args=[listing.pk]),
        valid_listing_data(description="Now with a new geyser."),
    )
    listing.refresh_from_db()
    assert listing.is_published


def test_form_requires_what_tenants_ask_first(client, owner):
    client.force_login(owner)
    data = valid_listing_data()
    for name in ("water_source", "water_hours", "electricity_billing", "bike_parking"):
        data.pop(name)
    response = client.post(reverse("listings:create"), data)
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert set(errors) >= {"water_source", "water_hours", "electricity_billing"}
    assert "hours of water" in errors["water_hours"][0]
    assert not Listing.objects.exists()


def test_owner_rate_needs_the_rate(client, owner):
    client.force_login(owner)
    response = client.post(
        reverse("listings:create"),
        valid_listing_data(electricity_billing="owner_rate"),
    )
    assert "electricity_rate" in response.context["form"].errors


def test_water_hours_over_24_explains_the_limit(client, owner):
    client.force_login(owner)
    response = client.post(
        reverse("listings:create"), valid_listing_data(water_hours=30)
    )
    assert "between 0 and 24" in response.content.decode()


def test_owner_submits_draft_for_review(client, owner):
    listing = ListingFactory(owner=owner, status="draft")
    client.force_login(owner)
    response = client.post(
        reverse("listings:action", args=[listing.pk, "submit"]), follow=True
    )
    listing.refresh_from_db()
    assert listing.status == "pending"
    assert b"Sent for review" in response.content


def test_unverified_owner_is_told_to_verify_before_publishing(client):
    owner = UserFactory(role="owner", email_verified=False)
    listing = ListingFactory(owner=owner, status="draft")
    client.force_login(owner)
    response = client.post(
        reverse("listings:action", args=[listing.pk, "submit"]), follow=True
    )
    assert b"Verify your email" in response.content
    listing.refresh_from_db()
    assert listing.status == "draft"


def test_owner_deletes_listing(client, owner):
    listing = ListingFactory(owner=owner)
    client.force_login(owner)
    assert client.get(reverse("listings:delete", args=[listing.pk])).status_code == 200
    client.post(reverse("listings:delete", args=[listing.pk]))
    assert not Listing.objects.filter(pk=listing.pk).exists()


def test_my_listings_shows_stats_with_fixed_query_count(
    client, owner, tenant, django_assert_max_num_queries
):
    from messaging.models import Conversation
    from visits import services as visit_services
    from visits import slots as visit_slots
    from visits.tests.factories import open_every_day

    client.force_login(owner)
    first = ListingFactory(owner=owner)
    Shortlist.objects.create(user=tenant, listing=first)
    Conversation.objects.create(listing=first, tenant=tenant, owner=owner)
    open_every_day(first)
    visit_services.visit_request(
        tenant=tenant,
        listing=first,
        starts_at=visit_slots.free_slots(first, limit=1)[0].starts_at,
    )
    Listing.objects.filter(pk=first.pk).update(view_count=12)
    client.get(reverse("listings:mine"))  # caches the header's counts
    # user, listings with stats, covers (and the session on a cache miss)
    with django_assert_max_num_queries(4) as few:
        client.get(reverse("listings:mine"))
    ListingFactory.create_batch(8, owner=owner)
    with django_assert_max_num_queries(4) as many:
        response = client.get(reverse("listings:mine"))
    assert len(many.captured_queries) == len(few.captured_queries)
    html = response.content.decode()
    assert "<strong>12</strong> views" in html
    assert "<strong>1</strong> shortlists" in html
    assert "<strong>1</strong> inquiries" in html
    assert "<strong>1</strong> visit requests" in html
    assert "1 to answer" in html


# --- Photos through the page --------------------------------------------------------


def photo_upload(data, name="room.jpg"):
    return SimpleUploadedFile(name, data, content_type="image/jpeg")


def test_owner_uploads_several_photos(client, owner):
    listing = ListingFactory(owner=owner)
    client.force_login(owner)
    response = client.post(
        reverse("listings:photos", args=[listing.pk]),
        {"photos": [photo_upload(photo_bytes()), photo_upload(photo_bytes("PNG"))]},
    )
    assert response.status_code == 302
    assert listing.photos.count() == 2


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (png_claiming_size(30_000, 30_000), "decompression bomb"),
        (png_claiming_size(8000, 6000), "the limit is 40"),
        (b"MZ\x90\x00 not a photo at all", "not a photo we can read"),
        (photo_bytes("GIF"), "Only JPEG, PNG and WebP"),
    ],
)
def test_upload_refusals_are_explained_and_store_nothing(client, owner, data, message):
    listing = ListingFactory(owner=owner)
    client.force_login(owner)
    response = client.post(
        reverse("listings:photos", args=[listing.pk]),
        {"photos": [photo_upload(photo_bytes()), photo_upload(data, "bad.jpg")]},
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert listing.photos.count() == 0


def test_sixteenth_photo_upload_is_refused(client, owner):
    listing = ListingFactory(owner=owner)
    data = photo_bytes("JPEG", (80, 60))
    for _ in range(15):
        services.photo_add(listing=listing, data=data)
    client.force_login(owner)
    response = client.post(
        reverse("listings:photos", args=[listing.pk]), {"photos": [photo_upload(data)]}
    )
    assert response.status_code == 400
    assert "can add 0 more" in response.content.decode()
    assert listing.photos.count() == 15


def test_photo_page_actions_reorder_cover_and_delete(client, owner):
    listing = ListingFactory(owner=owner)
    a, b = (services.photo_add(listing=listing, data=photo_bytes()) for _ in "ab")
    client.force_login(owner)
    client.post(reverse("listings:photo_action", args=[listing.pk, b.pk, "up"]))
    client.post(reverse("listings:photo_action", args=[listing.pk, b.pk, "cover"]))
    b.refresh_from_db()
    assert b.position == 0 and b.is_cover
    client.post(reverse("listings:photo_action", args=[listing.pk, a.pk, "delete"]))
    assert list(listing.photos.all()) == [b]


# --- Shortlist and reports -----------------------------------------------------------


def test_tenant_shortlists_and_sees_the_shortlist_page(
    client, tenant, django_assert_max_num_queries
):
    listing = ListingFactory(title="Keep me")
    client.force_login(tenant)
    client.post(
        reverse("listings:shortlist_toggle", args=[listing.pk]), {"next": SEARCH}
    )
    assert Shortlist.objects.filter(user=tenant, listing=listing).exists()
    client.get(reverse("home"))  # caches the header's counts
    with django_assert_max_num_queries(5):
        response = client.get(reverse("listings:shortlist"))
    assert "Keep me" in response.content.decode()
    assert 'aria-pressed="true"' in response.content.decode()


def test_shortlist_toggle_ignores_offsite_next(client, tenant):
    listing = ListingFactory()
    client.force_login(tenant)
    response = client.post(
        reverse("listings:shortlist_toggle", args=[listing.pk]),
        {"next": "//evil.example/"},
    )
    assert response["Location"] == listing.get_absolute_url()


def test_draft_cannot_be_shortlisted(client, tenant):
    listing = ListingFactory(status="draft")
    client.force_login(tenant)
    response = client.post(reverse("listings:shortlist_toggle", args=[listing.pk]))
    assert response.status_code == 404


def test_tenant_reports_a_listing(client, tenant):
    listing = ListingFactory()
    client.force_login(tenant)
    response = client.post(
        reverse("listings:report", args=[listing.pk]),
        {"reason": "broker", "details": "Asked for half a month's rent."},
    )
    assert response.status_code == 302
    report = ListingReport.objects.get()
    assert report.reporter == tenant and report.reason == "broker"


def test_reporting_twice_keeps_one_open_report(client, tenant):
    listing = ListingFactory()
    client.force_login(tenant)
    url = reverse("listings:report", args=[listing.pk])
    client.post(url, {"reason": "scam", "details": "Asked for an advance."})
    client.post(url, {"reason": "scam", "details": "Again today."})
    report = ListingReport.objects.get()
    assert "Asked for an advance." in report.details
    assert "Again today." in report.details


def test_report_without_reason_is_refused_with_a_message(client, tenant):
    listing = ListingFactory()
    client.force_login(tenant)
    response = client.post(reverse("listings:report", args=[listing.pk]), {})
    assert response.status_code == 400
    assert not ListingReport.objects.exists()


def test_owner_cannot_report_own_listing(client, owner):
    listing = ListingFactory(owner=owner)
    client.force_login(owner)
    assert client.get(reverse("listings:report", args=[listing.pk])).status_code == 404
