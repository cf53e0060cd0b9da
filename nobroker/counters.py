"""
Per-user counts shown in the header on every page (unread messages, unread
notifications), kept in the cache so a page view costs no query for them.

Each count is forgotten after commit whenever it changes; the short lifetime
bounds how stale a count can get if some change path forgets to forget it.
"""

import asyncio
import logging
import weakref
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from redis import asyncio as aioredis
from redis.exceptions import RedisError

from nobroker.metrics import cache_get

logger = logging.getLogger(__name__)

COUNT_SECONDS = 5 * 60


def count_key(name: str, user_id: int) -> str:
    return f"count:{name}:{user_id}"


def cached_count(name: str, user_id: int, compute: Callable[[], int]) -> int:
    key = count_key(name, user_id)
    value = cache_get("counts", key)
    if value is None:
        value = compute()
        cache.set(key, value, COUNT_SECONDS)
    return value


def forget_count(name: str, user_id: int) -> None:
    """Drops the cached count now (call it in an on-commit hook or after commit)."""
    cache.delete(count_key(name, user_id))


# A Redis client per event loop for `aforget_count`: asyncio connections
# belong to the loop that opened them.
_async_clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def async_redis() -> aioredis.Redis | None:
    """The running loop's Redis client for the cache; None if it is not Redis."""
    config = settings.CACHES["default"]
    if config["BACKEND"] != "django_redis.cache.RedisCache":
        return None
    loop = asyncio.get_running_loop()
    client = _async_clients.get(loop)
    if client is None:
        options = config.get("OPTIONS", {})
        client = _async_clients[loop] = aioredis.Redis.from_url(
            config["LOCATION"],
            socket_connect_timeout=options.get("SOCKET_CONNECT_TIMEOUT"),
            socket_timeout=options.get("SOCKET_TIMEOUT"),
        )
    return client


async def aforget_count(name: str, user_id: int) -> None:
    """
    `forget_count` from an event loop: the delete waits for Redis without
    blocking the loop or a thread. Like the cache itself, a Redis outage is
    logged, never raised.
    """
    client = async_redis()
    if client is None:
        forget_count(name, user_id)  # In-process cache: nothing to wait for.
        return
    try:
        await client.delete(cache.make_key(count_key(name, user_id)))
    except RedisError as error:
        logger.warning("Could not forget the %s count: %s", name, error)


def forget_count_on_commit(name: str, user_id: int) -> None:
    """
    Forgets the count now, for the rest of this transaction, and again after
    commit, in case another request cached the old value in between.
    """
    forget_count(name, user_id)
    transaction.on_commit(lambda: forget_count(name, user_id))


def forget_counts_on_commit(name: str, user_ids) -> None:
    """`forget_count_on_commit` for many people at once: one cache call each time."""
    keys = [count_key(name, user_id) for user_id in set(user_ids)]
    if not keys:
        return
    cache.delete_many(keys)
    transaction.on_commit(lambda: cache.delete_many(keys))
