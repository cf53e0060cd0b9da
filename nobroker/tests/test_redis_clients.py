"""The cache's Redis client is made once per process (REDIS_URL, as in CI)."""

import asyncio
import threading

import pytest
from django.conf import settings
from django.core.cache import caches

pytestmark = pytest.mark.skipif(
    not settings.REDIS_URL, reason="The shared client is the Redis cache's."
)


def _client():
    return caches["default"].client.get_client(write=True)


def test_every_request_and_socket_gets_the_same_redis_client():
    # Django makes a cache object per thread and per task; each used to make
    # its own redis.Redis (12 KiB, kept by an open websocket).
    here = _client()
    seen = []
    thread = threading.Thread(target=lambda: seen.append(_client()))
    thread.start()
    thread.join()

    async def in_a_task():
        return _client()

    seen.append(asyncio.run(in_a_task()))
    fresh = caches.create_connection("default")
    assert fresh is not caches["default"]
    seen.append(fresh.client.get_client(write=True))
    assert all(client is here for client in seen)


def test_cache_objects_sharing_the_client_read_each_others_writes():
    fresh = caches.create_connection("default")
    caches["default"].set("shared-client-check", "one", 30)
    assert fresh.get("shared-client-check") == "one"
    fresh.delete("shared-client-check")
    assert caches["default"].get("shared-client-check") is None
