"""
The session engine: Django's cached_db (a cache outage logs nobody out), with
its cache lookups counted for the metrics (use "sessions").
"""

from django.contrib.sessions.backends import cached_db

from nobroker.metrics import count_cache


class CountingCache:
    """A cache whose get() and aget() count hits and misses; the rest passes through."""

    # One per session, and an open socket keeps its session: no __dict__.
    __slots__ = ("_cache", "_use")

    def __init__(self, cache, use: str):
        self._cache = cache
        self._use = use

    def get(self, key, default=None, version=None):
        value = self._cache.get(key, default, version)
        count_cache(self._use, hits=value is not None, misses=value is None)
        return value

    async def aget(self, key, default=None, version=None):
        value = await self._cache.aget(key, default, version)
        count_cache(self._use, hits=value is not None, misses=value is None)
        return value

    def __contains__(self, key):
        return key in self._cache

    def __getattr__(self, name):
        return getattr(self._cache, name)


class SessionStore(cached_db.SessionStore):
    def __init__(self, session_key=None):
        super().__init__(session_key)
        self._cache = CountingCache(self._cache, "sessions")
