"""The whole-page cache for visitors who are not logged in (nobroker/page_cache.py)."""

import uuid

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.http import HttpResponse
from django.middleware.csrf import get_token
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.csp import LazyNonce

from ads import serving
from ads.store import get_store, reset_store
from ads.tests.factories import BROWSER, live_campaign
from listings.models import Shortlist
from listings.tests.factories import ListingFactory
from nobroker import counting, page_cache

pytestmark = pytest.mark.django_db

SEARCH = reverse("listings:search")


@pytest.fixture(autouse=True)
def _own_ads_and_counts(settings):
    """Ads and counts of this test only, as in the ads tests."""
    settings.REDIS_KEY_PREFIX = f"test-page-{uuid.uuid4().hex[:10]}"
    settings.PAGE_CACHE_SECONDS = 30
    # Stored on the first view: these tests are about what a stored page
    # serves (the default's wait for a second view is tested on its own).
    settings.PAGE_CACHE_MIN_USES = 1
    reset_store()
    counting.reset_backend()
    serving.index_forget_locally()
    yield
    store = get_store()
    if hasattr(store, "client"):
        store.clear()
        backend = counting.backend()
        for key in backend.client.scan_iter(match=backend.prefix + "*"):
            backend.client.delete(key)
    reset_store()
    counting.reset_backend()
    serving.index_forget_locally()


def _get(client, url, **extra):
    return client.get(url, HTTP_USER_AGENT=BROWSER, **extra)


def test_a_page_is_stored_only_once_it_is_asked_for_again(client, settings):
    from unittest import mock

    from django.core.cache import cache

    settings.PAGE_CACHE_MIN_USES = 2
    ListingFactory.create_batch(3)
    with mock.patch.object(cache, "set", wraps=cache.set) as stores:
        # A search typed once is served and never stored.
        once = _get(client, SEARCH + "?type=flat&rent_max=31234")
        assert once[page_cache.HEADER] == "miss"
        assert once.status_code == 200 and b"listing-card" in once.content
        assert not [c for c in stores.call_args_list if c.args[0].startswith("page:")]
        # Asked for again (in any parameter order), it is stored; then served.
        first = _get(client, SEARCH + "?type=flat&sort=newest")
        assert first[page_cache.HEADER] == "miss"
        assert not [c for c in stores.call_args_list if c.args[0].startswith("page:")]
        second = _get(client, SEARCH + "?sort=newest&type=flat")
        assert second[page_cache.HEADER] == "miss"
        assert [c for c in stores.call_args_list if c.args[0].startswith("page:")]
    third = _get(client, SEARCH + "?sort=newest&type=flat")
    assert third[page_cache.HEADER] == "hit"
    assert third.content == second.content


def test_a_second_anonymous_search_comes_from_the_cache_without_sql(client):
    ListingFactory.create_batch(3)
    first = _get(client, SEARCH + "?sort=newest&type=flat")
    assert first[page_cache.HEADER] == "miss"
    # The same search with its parameters in another order is the same page.
    with CaptureQueriesContext(connection) as queries:
        second = _get(client, SEARCH + "?type=flat&sort=newest")
    assert second[page_cache.HEADER] == "hit"
    assert len(queries) == 0, [q["sql"] for q in queries.captured_queries]
    assert second.content.count(b'<li class="listing-card') == 3
    assert "private" in second["Cache-Control"]
    assert {"Cookie", "Accept-Language"} <= {
        v.strip() for v in second["Vary"].split(",")
    }
    # Still under the site's policy, with no nonce of another request in it.
    assert "nonce-" not in second["Content-Security-Policy"]


def test_home_and_listing_pages_are_cached_for_anonymous_visitors(client):
    listing = ListingFactory()
    for url in ("/", listing.get_absolute_url()):
        assert _get(client, url)[page_cache.HEADER] == "miss"
        again = _get(client, url)
        assert again[page_cache.HEADER] == "hit"
        assert listing.title.encode() in again.content or url == "/"


def test_a_logged_in_person_never_gets_the_cached_page(client, tenant):
    listing = ListingFactory()
    _get(client, SEARCH)
    assert _get(client, SEARCH)[page_cache.HEADER] == "hit"
    Shortlist.objects.create(user=tenant, listing=listing)
    client.force_login(tenant)
    page = _get(client, SEARCH)
    assert page_cache.HEADER not in page
    assert b"heart--on" in page.content
    assert b"Log out" in page.content
    # And what the logged-in person saw is not what the next visitor gets.
    client.logout()
    client.cookies.clear()
    anonymous = _get(client, SEARCH)
    assert anonymous[page_cache.HEADER] == "hit"
    assert b"heart--on" not in anonymous.content
    assert b"Log out" not in anonymous.content
    assert b"csrfmiddlewaretoken" not in anonymous.content


def test_the_language_is_part_of_the_key(client):
    ListingFactory()
    assert _get(client, "/")[page_cache.HEADER] == "miss"
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "ne"
    nepali = _get(client, "/")
    assert nepali[page_cache.HEADER] == "miss"
    assert b'<html lang="ne">' in nepali.content
    assert _get(client, "/")[page_cache.HEADER] == "hit"
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "en"
    english = _get(client, "/")
    assert english[page_cache.HEADER] == "hit"
    assert b'<html lang="en">' in english.content


def test_a_new_listing_is_seen_at_once(client, django_capture_on_commit_callbacks):
    ListingFactory(title="The first flat")
    _get(client, SEARCH)
    assert _get(client, SEARCH)[page_cache.HEADER] == "hit"
    with django_capture_on_commit_callbacks(execute=True):
        ListingFactory(title="A newer flat")
    page = _get(client, SEARCH)
    assert page[page_cache.HEADER] == "miss"
    assert b"A newer flat" in page.content


def test_visitors_with_a_session_or_flash_messages_are_not_served_from_it(client):
    _get(client, "/")
    assert _get(client, "/")[page_cache.HEADER] == "hit"
    for cookie in (django_settings.SESSION_COOKIE_NAME, "messages"):
        client.cookies.clear()
        client.cookies[cookie] = "something"
        assert page_cache.HEADER not in _get(client, "/")


def _request(path="/"):
    request = RequestFactory().get(path)
    request.user = AnonymousUser()
    request._csp_nonce = LazyNonce()
    return request


@pytest.mark.parametrize("uses", ["csrf", "nonce", "cookie", "status"])
def test_a_page_tied_to_its_visitor_is_never_stored(uses):
    request = _request()
    assert page_cache.serve(request) is None
    response = HttpResponse("<p>page</p>")
    if uses == "csrf":
        get_token(request)
    elif uses == "nonce":
        str(request._csp_nonce)
    elif uses == "cookie":
        response.set_cookie("x", "y")
    else:
        response.status_code = 203
    kept = page_cache.keep(request, response, "home.html")
    assert kept[page_cache.HEADER] == "skip"
    assert page_cache.serve(_request()) is None  # nothing was stored


def test_ads_are_chosen_and_capped_per_request_on_hits(client):
    live_campaign(placements=["home"], frequency_cap=2)
    pages = [_get(client, "/") for _ in range(3)]
    assert [p[page_cache.HEADER] for p in pages] == ["miss", "hit", "hit"]
    banners = [b'class="ad-banner"' in p.content for p in pages]
    assert banners == [True, True, False]
    # Another visitor (another browser) has a cap of their own.
    other = _get(Client(), "/", REMOTE_ADDR="198.51.100.4")
    assert other[page_cache.HEADER] == "hit"
    assert b'class="ad-banner"' in other.content


def test_search_ads_are_filled_per_request_on_hits(client):
    ListingFactory.create_batch(9)
    live_campaign(placements=["search"], frequency_cap=1)
    first, second = _get(client, SEARCH), _get(client, SEARCH)
    assert second[page_cache.HEADER] == "hit"
    assert b"ad-card" in first.content
    assert b"ad-card" not in second.content
    assert second.content.count(b'<li class="listing-card') == 9


def test_views_are_counted_on_hits(client):
    listing = ListingFactory()
    for _ in range(3):
        _get(client, listing.get_absolute_url())
    counting.flush()
    listing.refresh_from_db()
    assert listing.view_count == 3
