"""Header counts kept in the cache, forgotten when they change."""

import logging

from nobroker.counters import aforget_count, cached_count

DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1


async def test_forgetting_from_the_event_loop_drops_the_cached_count():
    # The configured cache: Redis when REDIS_URL is set, local memory otherwise.
    assert cached_count("messages", 7, lambda: 3) == 3
    assert cached_count("messages", 8, lambda: 5) == 5
    await aforget_count("messages", 7)
    assert cached_count("messages", 7, lambda: 4) == 4
    assert cached_count("messages", 8, lambda: 0) == 5  # Others are kept.


async def test_forgetting_with_redis_down_is_logged_not_raised(settings, caplog):
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": DEAD_REDIS,
            "OPTIONS": {
                "SOCKET_CONNECT_TIMEOUT": 0.2,
                "SOCKET_TIMEOUT": 0.2,
                "IGNORE_EXCEPTIONS": True,
            },
        }
    }
    with caplog.at_level(logging.WARNING, logger="nobroker.counters"):
        await aforget_count("messages", 7)
    assert "Could not forget the messages count" in caplog.text
