"""Fixtures of the ads tests: a store and counting keys of their own per test."""

import uuid

import pytest
from redis.exceptions import RedisError

from ads import serving
from ads.store import get_store, reset_store
from nobroker import counting


@pytest.fixture(autouse=True)
def _isolated_ads_state(settings):
    """
    Each test gets its own key prefix on Redis (or fresh in-process stores), so
    indexes, spend counters and counts never leak from one test to another.
    """
    settings.REDIS_KEY_PREFIX = f"test-ads-{uuid.uuid4().hex[:10]}"
    reset_store()
    counting.reset_backend()
    serving.index_forget_locally()
    yield
    store = get_store()
    if hasattr(store, "client"):
        try:
            store.clear()
            backend = counting.backend()
            for key in backend.client.scan_iter(match=backend.prefix + "*"):
                backend.client.delete(key)
        except RedisError:
            pass  # A test pointed the store at a server that is not there.
    reset_store()
    counting.reset_backend()
    serving.index_forget_locally()
