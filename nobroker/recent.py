"""
A process's own copy of what it read from the cache lately, for keys that
carry the listings cache version (whole pages, result cards).

Such a key names one unchanging value: any change to a listing bumps the
version, and every key after it is new (listings/cache.py). So the copy can
never be older than the version this process reads (at most a second old,
as every cached read already is), and a busy page is read from this
process's memory instead of from Redis and unpickled on every request. Each
copy is small and bounded by count and by age.
"""

import threading
import time
from collections import OrderedDict

_all: list["Recent"] = []


class Recent:
    """At most `size` values, each for at most `seconds`, the least recently
    used dropped first. Values must not be changed by whoever reads them."""

    def __init__(self, size: int, seconds: float):
        self.size = size
        self.seconds = seconds
        self._items: OrderedDict = OrderedDict()
        # Pages run on several threads under ASGI.
        self._lock = threading.Lock()
        _all.append(self)

    def get(self, key):
        with self._lock:
            found = self._items.get(key)
            if found is None:
                return None
            if found[0] <= time.monotonic():
                del self._items[key]
                return None
            self._items.move_to_end(key)
            return found[1]

    def put(self, key, value, seconds: float | None = None) -> None:
        now = time.monotonic()
        expires = now + min(seconds or self.seconds, self.seconds)
        with self._lock:
            items = self._items
            items[key] = (expires, value)
            items.move_to_end(key)
            # The least recently used go while there are too many, and while
            # they are too old: a copy holds what was read in its last
            # `seconds`, not everything that once filled it.
            while items and (
                len(items) > self.size or next(iter(items.values()))[0] <= now
            ):
                items.popitem(last=False)

    def read(self, use: str, key: str):
        """`metrics.cache_get(use, key)` with this copy in front: the value
        from here if it is, else from the cache (and kept here). Counted as a
        hit or a miss of `use` either way."""
        from nobroker import metrics

        found = self.get(key)
        if found is not None:
            metrics.count_cache(use, hits=1, misses=0)
            return found
        found = metrics.cache_get(use, key)
        if found is not None:
            self.put(key, found)
        return found

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def clear_all() -> None:
    """Forgets every copy (tests, after clearing the cache itself)."""
    for recent in _all:
        recent.clear()
