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
def test_a_busy_search_page_is_read_from_redis_once_then_from_memory(client):
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
