"""A process's copy of recently read cache values (nobroker/recent.py)."""

from unittest import mock

import pytest

from nobroker.recent import Recent


def test_a_copy_is_kept_until_it_is_too_old():
    recent = Recent(size=10, seconds=5)
    with mock.patch("nobroker.recent.time.monotonic", return_value=100.0):
        recent.put("page:1:a", "html")
    with mock.patch("nobroker.recent.time.monotonic", return_value=104.9):
        assert recent.get("page:1:a") == "html"
    with mock.patch("nobroker.recent.time.monotonic", return_value=105.0):
        assert recent.get("page:1:a") is None


def test_a_copy_never_outlives_what_it_was_given_for():
    recent = Recent(size=10, seconds=30)
    with mock.patch("nobroker.recent.time.monotonic", return_value=0.0):
        recent.put("short", "x", seconds=2)
        recent.put("long", "y", seconds=600)
    with mock.patch("nobroker.recent.time.monotonic", return_value=2.0):
        assert recent.get("short") is None
        assert recent.get("long") == "y"
    with mock.patch("nobroker.recent.time.monotonic", return_value=30.0):
        assert recent.get("long") is None


def test_the_least_recently_used_go_first_and_the_size_holds():
    recent = Recent(size=3, seconds=60)
    for key in "abc":
        recent.put(key, key.upper())
    assert recent.get("a") == "A"  # "a" is now the most recently used
    recent.put("d", "D")
    assert recent.get("b") is None
    assert [recent.get(key) for key in "acd"] == ["A", "C", "D"]
    assert len(recent._items) == 3


@pytest.mark.django_db
def test_a_busy_search_page_is_read_from_redis_once_then_from_memory(client, settings):
    settings.PAGE_CACHE_MIN_USES = 1  # stored on the first view
    from django.core.cache import cache

    from listings.tests.factories import ListingFactory

    ListingFactory(title="Flat in Thamel")
    path = "/rent/?type=flat"
    assert client.get(path)["X-Page-Cache"] == "miss"
    with mock.patch.object(cache, "get", wraps=cache.get) as reads:
        for _ in range(3):
            assert client.get(path)["X-Page-Cache"] == "hit"
    page_reads = [c for c in reads.call_args_list if str(c.args[0]).startswith("page:")]
    assert page_reads == []


def test_read_takes_the_cache_value_once_and_counts_every_read_as_a_hit():
    from django.core.cache import cache

    from nobroker.metrics import CACHE_REQUESTS

    def hits():
        return CACHE_REQUESTS.labels("page", "hit")._value.get()

    recent = Recent(size=10, seconds=60)
    cache.set("page:test-read", {"parts": ["x"]}, 30)
    before = hits()
    assert recent.read("page", "page:test-read") == {"parts": ["x"]}
    cache.delete("page:test-read")
    # Now only this process's copy has it.
    assert recent.read("page", "page:test-read") == {"parts": ["x"]}
    assert hits() == before + 2
    assert recent.read("page", "page:nothing-here") is None


@pytest.mark.django_db
def test_a_busy_search_page_joins_its_cards_once_for_visitors_not_logged_in(
    client, django_user_model
):
    from listings import cards
    from listings.tests.factories import ListingFactory

    for n in range(3):
        ListingFactory(title=f"Flat {n} in Thamel")
    path = "/rent/?type=flat"
    with mock.patch.object(cards, "render_cards", wraps=cards.render_cards) as joins:
        first = client.get(path)
        again = [client.get(path) for _ in range(3)]
    assert joins.call_count == 1
    assert all(page.content == first.content for page in again)
    assert first.content.count(b'class="listing-card"') == 3

    # A logged-in tenant's hearts are their own: their cards are joined anew.
    tenant = django_user_model.objects.create_user(
        email="tenant@example.com", password="pw-12345678"
    )
    client.force_login(tenant)
    with mock.patch.object(cards, "render_cards", wraps=cards.render_cards) as joins:
        client.get(path)
        client.get(path)
    assert joins.call_count == 2


@pytest.mark.django_db
def test_a_page_address_sent_in_another_order_is_the_same_cached_page(client, settings):
    settings.PAGE_CACHE_MIN_USES = 1  # stored on the first view
    from listings.tests.factories import ListingFactory

    ListingFactory(title="Flat in Thamel")
    assert client.get("/rent/?type=flat&sort=newest")["X-Page-Cache"] == "miss"
    assert client.get("/rent/?sort=newest&type=flat")["X-Page-Cache"] == "hit"
    # Nepali digits are read as the same rent.
    assert client.get("/rent/?type=flat&rent_max=२००००")["X-Page-Cache"] == "miss"
    assert client.get("/rent/?rent_max=20000&type=flat")["X-Page-Cache"] == "hit"


def test_what_has_expired_is_let_go_when_something_new_comes_in():
    recent = Recent(size=100, seconds=10)
    with mock.patch("nobroker.recent.time.monotonic", return_value=0.0):
        for n in range(50):
            recent.put(f"page:1:{n}", "x" * 1000)
    with mock.patch("nobroker.recent.time.monotonic", return_value=5.0):
        recent.put("page:1:new", "y")
        assert len(recent._items) == 51
    with mock.patch("nobroker.recent.time.monotonic", return_value=10.0):
        recent.put("page:2:new", "z")
    # Only what was put in the last ten seconds is held.
    assert list(recent._items) == ["page:1:new", "page:2:new"]
