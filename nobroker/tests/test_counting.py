"""The shared counting machinery: exactly-once flushes, unique visitors, who counts."""

import logging
import os
import time
import uuid
from datetime import date, timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.test import RequestFactory

from nobroker import counting
from nobroker.models import CountBatch

PHONE_BROWSER = (
    "Mozilla/5.0 (Linux; Android 14; SM-A155F) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36"
)
OTHER_BROWSER = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
)
DEAD_REDIS = "redis://127.0.0.1:9699/0"  # in this suite's port range, nothing there


class Ledger:
    """
    An app's rollup as a test sees it: amounts land only when the flush's
    transaction commits, as rows in a real table would.
    """

    def __init__(self):
        self.counts: dict[tuple[date, str], int] = {}
        self.uniques: dict[tuple[date, str], int] = {}

    def apply(self, day, counts):
        assert transaction.get_connection().in_atomic_block
        for key, amount in counts.items():
            transaction.on_commit(
                lambda k=(day, key), a=amount: self.counts.__setitem__(
                    k, self.counts.get(k, 0) + a
                )
            )

    def apply_unique(self, day, counts):
        for key, amount in counts.items():
            self.uniques[(day, key)] = max(self.uniques.get((day, key), 0), amount)


@pytest.fixture(params=["local", "redis"])
def store(request, settings):
    """Each test runs on the in-process store and on the real Redis."""
    counting.reset_backend()
    if request.param == "redis":
        url = os.environ.get("REDIS_URL")
        if not url:
            pytest.skip("REDIS_URL is not set: the Redis store is tested with it")
        settings.REDIS_URL = url
        settings.REDIS_KEY_PREFIX = f"test-counting-{uuid.uuid4().hex[:8]}"
    else:
        settings.REDIS_URL = ""
    backend = counting.backend()
    yield backend
    if request.param == "redis":
        for key in backend.client.scan_iter(match=backend.prefix + "*"):
            backend.client.delete(key)
    counting.reset_backend()


@pytest.fixture
def ledger():
    ledger = Ledger()
    saved = counting.registered()
    counting._metrics.clear()
    counting.register("test.view", apply=ledger.apply, apply_unique=ledger.apply_unique)
    yield ledger
    counting._metrics.clear()
    counting._metrics.update(saved)


def _request(user_agent=PHONE_BROWSER, address="203.0.113.7", user=None, **headers):
    request = RequestFactory().get(
        "/rent/1/", HTTP_USER_AGENT=user_agent, REMOTE_ADDR=address, **headers
    )
    request.user = user or AnonymousUser()
    return request


pytestmark = pytest.mark.django_db(transaction=True)


def test_a_flush_that_runs_twice_counts_once(store, ledger):
    today = date(2026, 12, 1)
    counting.count("test.view", 5, 6, day=today)
    counting.count("test.view", 5, day=today)
    first = counting.flush()
    second = counting.flush()
    assert ledger.counts == {(today, "5"): 2, (today, "6"): 1}
    assert (first.batches, first.events) == (1, 3)
    assert (second.batches, second.events) == (0, 0)


def test_counts_after_a_flush_go_into_the_next_one(store, ledger):
    today = date(2026, 12, 1)
    counting.count("test.view", 5, day=today)
    counting.flush()
    counting.count("test.view", 5, amount=4, day=today)
    counting.flush()
    assert ledger.counts == {(today, "5"): 5}


def test_a_crash_between_apply_and_delete_does_not_count_twice(
    store, ledger, monkeypatch
):
    today = date(2026, 12, 1)
    counting.count("test.view", 5, amount=3, day=today)
    original = type(store).drop_batch

    def crash(self, batch):
        raise ConnectionError("process killed before the batch key was deleted")

    monkeypatch.setattr(type(store), "drop_batch", crash)
    with pytest.raises(ConnectionError):
        counting.flush()
    assert ledger.counts == {(today, "5"): 3}
    monkeypatch.setattr(type(store), "drop_batch", original)
    again = counting.flush()
    assert ledger.counts == {(today, "5"): 3}
    assert again.skipped == 1
    assert counting.flush().skipped == 0  # The leftover batch is gone.


def test_a_failed_apply_keeps_the_batch_for_the_next_flush(store, ledger):
    today = date(2026, 12, 1)
    counting.count("test.view", 5, amount=2, day=today)
    calls = []

    def fail_once(day, counts):
        calls.append(counts)
        if len(calls) == 1:
            raise RuntimeError("database went away")
        ledger.apply(day, counts)

    counting.register("test.view", apply=fail_once)
    with pytest.raises(RuntimeError):
        counting.flush()
    assert ledger.counts == {}
    assert not CountBatch.objects.exists()
    counting.flush()
    assert ledger.counts == {(today, "5"): 2}


def test_two_flushers_meeting_the_same_batch_apply_it_once(store, ledger):
    today = date(2026, 12, 1)
    counting.count("test.view", 9, amount=7, day=today)
    batch = store.claim_batches({"test.view"})[0]
    # Another flusher recorded it after this one's check, before its insert.
    CountBatch.objects.create(batch_id=batch.batch_id, metric="test.view", day=today)
    result = counting.flush()
    assert ledger.counts == {}
    assert result.skipped == 1


def test_the_same_person_twice_is_one_visitor_and_two_people_are_two(store, ledger):
    today = date(2026, 12, 1)
    for _ in range(3):
        assert counting.count_request(_request(), "test.view", 5)
    counting.count_request(_request(OTHER_BROWSER, "198.51.100.4"), "test.view", 5)
    counting.count_request(_request(), "test.view", 6)
    counting.flush()
    day = counting.timezone.localdate()
    assert ledger.counts == {(day, "5"): 4, (day, "6"): 1}
    assert ledger.uniques == {(day, "5"): 2, (day, "6"): 1}
    del today


def test_unique_visitors_are_for_the_whole_day_across_flushes(store, ledger):
    counting.count_request(_request(), "test.view", 5)
    counting.flush()
    counting.count_request(_request(), "test.view", 5)
    counting.count_request(_request(OTHER_BROWSER), "test.view", 5)
    counting.flush()
    day = counting.timezone.localdate()
    assert ledger.uniques == {(day, "5"): 2}
    assert ledger.counts == {(day, "5"): 3}


def test_a_signed_in_person_is_one_visitor_on_any_device(store, ledger, tenant):
    counting.count_request(_request(user=tenant), "test.view", 5)
    counting.count_request(
        _request(OTHER_BROWSER, "198.51.100.4", tenant), "test.view", 5
    )
    counting.flush()
    assert ledger.uniques == {(counting.timezone.localdate(), "5"): 1}


def test_bots_and_prefetches_are_not_counted(store, ledger):
    bots = [
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "python-requests/2.32.3",
        "",
    ]
    for agent in bots:
        assert not counting.count_request(_request(agent), "test.view", 5)
    for header, value in [
        ("HTTP_SEC_PURPOSE", "prefetch"),
        ("HTTP_SEC_PURPOSE", "prefetch;prerender"),
        ("HTTP_PURPOSE", "prefetch"),
        ("HTTP_X_MOZ", "prefetch"),
    ]:
        assert not counting.count_request(_request(**{header: value}), "test.view", 5)
    post = RequestFactory().post("/rent/1/", HTTP_USER_AGENT=PHONE_BROWSER)
    post.user = AnonymousUser()
    assert not counting.count_request(post, "test.view", 5)
    counting.flush()
    assert ledger.counts == {}


def test_do_not_track_and_gpc_count_in_the_total_only(store, ledger, tenant):
    counting.count_request(_request(HTTP_DNT="1"), "test.view", 5)
    counting.count_request(_request(OTHER_BROWSER, HTTP_SEC_GPC="1"), "test.view", 5)
    counting.flush()
    day = counting.timezone.localdate()
    assert ledger.counts == {(day, "5"): 2}
    assert ledger.uniques == {}
    # Signed in, the person is counted as themselves (one of the site's users).
    assert counting.visitor_hash(_request(user=tenant, HTTP_DNT="1")) is not None


def test_visitor_hash_keeps_no_address_or_agent_and_changes_every_day(store):
    request = _request()
    # Days relative to now: a day's key lives until the end of the next day,
    # so a fixed date stops having one once that has passed.
    day = counting.timezone.localdate()
    today = counting.visitor_hash(request, day=day)
    assert today == counting.visitor_hash(request, day=day)
    assert today != counting.visitor_hash(request, day=day + timedelta(days=1))
    assert "203.0.113.7" not in today and "Android" not in today
    assert len(today) == 32


def test_a_redis_outage_skips_counting_with_one_log_line(settings, ledger, caplog):
    counting.reset_backend()
    settings.REDIS_URL = DEAD_REDIS
    try:
        with caplog.at_level(logging.WARNING, logger="nobroker.counting"):
            for _ in range(5):
                counting.count_request(_request(), "test.view", 5)
                counting.count("test.view", 5)
        lines = [r for r in caplog.records if r.name == "nobroker.counting"]
        assert len(lines) == 1
        assert "Counting skipped" in lines[0].getMessage()
    finally:
        counting.reset_backend()


def test_the_flush_command_applies_what_was_counted(store, ledger):
    from django.core.management import call_command

    counting.count("test.view", 5, amount=2)
    call_command("flush_counts")
    assert ledger.counts == {(counting.timezone.localdate(), "5"): 2}


def test_deferred_counts_reach_redis_from_the_thread_and_the_flush(
    settings, ledger, monkeypatch
):
    """Outside tests a page's counts wait in its process's batch, not on Redis."""
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.skip("REDIS_URL is not set: deferred writes are for the Redis store")
    settings.REDIS_URL = url
    settings.REDIS_KEY_PREFIX = f"test-counting-{uuid.uuid4().hex[:8]}"
    settings.COUNTING_DEFER_WRITES = True
    monkeypatch.setattr(counting, "WRITE_EVERY_SECONDS", 1.0)
    counting.is_crawler(PHONE_BROWSER)  # the detector's first use is slow
    counting.reset_backend()
    store = counting.backend()
    assert isinstance(store, counting.DeferredWrites)
    try:
        calls = []
        real_add = store.store.add
        store.store.add = lambda **kw: calls.append(kw) or real_add(**kw)
        for address in ("203.0.113.7", "203.0.113.7", "203.0.113.8"):
            assert counting.count_request(_request(address=address), "test.view", 7)
        assert calls == []  # nothing sent while the pages ran
        deadline = time.monotonic() + 5
        while not calls:  # the writer thread sends the batch in one call
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert len(calls) == 1
        counting.count_request(_request(address="203.0.113.9"), "test.view", 7)
        counting.flush()  # writes this process's batch first
        today = counting.timezone.localdate()
        assert ledger.counts == {(today, "7"): 4}
        assert ledger.uniques == {(today, "7"): 3}
    finally:
        for key in store.client.scan_iter(match=store.prefix + "*"):
            store.client.delete(key)
        counting.reset_backend()
