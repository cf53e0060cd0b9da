"""
Where ads keep their fast state: the serving index, the live spend counters
that budgets are checked against, frequency counts and used one-time tokens.
Redis when the cache is Redis; otherwise this process's memory (the embedded
default, one process). The counts themselves (served, viewable, clicks, spend)
go through the shared counting machinery (`nobroker.counting`).

Every call that fails because Redis is away raises `StoreDown`; callers
then serve no ad and count nothing, so nothing is charged for lost counts.
"""

import pickle
import threading
import time

from django.conf import settings
from redis.exceptions import RedisError


class StoreDown(Exception):
    pass


# Bills one event atomically: adds its price to the day's, the campaign's and
# the advertiser's spend only if none of them would pass its limit. Returns 1
# when billed, 0 when a limit stopped it, -1 when the spend counters are not
# loaded (after a Redis restart, until the next index rebuild).
BILL_SCRIPT = """
local amount = tonumber(ARGV[1])
local total = redis.call('GET', KEYS[2])
local adv = redis.call('GET', KEYS[3])
local credit = redis.call('GET', KEYS[4])
if not total or not adv or not credit then return -1 end
local day = tonumber(redis.call('GET', KEYS[1]) or '0')
if day + amount > tonumber(ARGV[2]) then return 0 end
if tonumber(total) + amount > tonumber(ARGV[3]) then return 0 end
if tonumber(adv) + amount > tonumber(credit) then return 0 end
redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], 259200)
redis.call('INCRBY', KEYS[2], ARGV[1])
redis.call('INCRBY', KEYS[3], ARGV[1])
return 1
"""


class RedisStore:
    def __init__(self, client, prefix: str):
        self.client = client
        self.prefix = f"{prefix}:ads:"
        self._bill = client.register_script(BILL_SCRIPT)

    def _k(self, key: str) -> str:
        return self.prefix + key

    def _call(self, fn, *args):
        try:
            return fn(*args)
        except RedisError as error:
            raise StoreDown(str(error)) from error

    def get(self, key: str):
        return self._call(self.client.get, self._k(key))

    def get_object(self, key: str):
        raw = self.get(key)
        return pickle.loads(raw) if raw is not None else None  # noqa: S301 - our own data

    def set_object(self, key: str, value, ttl: int | None = None) -> None:
        self._call(self.client.set, self._k(key), pickle.dumps(value), ttl)

    def set(self, key: str, value, ttl: int | None = None, nx: bool = False) -> bool:
        return bool(
            self._call(lambda: self.client.set(self._k(key), value, ex=ttl, nx=nx))
        )

    def add(self, key: str, ttl: int) -> bool:
        """Sets the key if it is not there; True when this call set it."""
        return self.set(key, 1, ttl=ttl, nx=True)

    def mget(self, keys: list[str]) -> list:
        if not keys:
            return []
        return self._call(self.client.mget, [self._k(k) for k in keys])

    def incr(self, key: str, amount: int = 1, ttl: int | None = None) -> int:
        def run():
            pipe = self.client.pipeline()
            pipe.incrby(self._k(key), amount)
            if ttl:
                pipe.expire(self._k(key), ttl)
            return pipe.execute()[0]

        return self._call(run)

    def add_many(self, counters: dict, ttl: int) -> None:
        """Adds to several counters (each with a lifetime) in one round trip."""
        if not counters:
            return

        def run():
            pipe = self.client.pipeline(transaction=False)
            for key, n in counters.items():
                pipe.incrby(self._k(key), n)
                pipe.expire(self._k(key), ttl)
            pipe.execute()

        self._call(run)

    def bill(
        self, *, keys: list[str], amount: int, day_cap: int, total_cap: int
    ) -> int:
        return int(
            self._call(
                lambda: self._bill(
                    keys=[self._k(k) for k in keys], args=[amount, day_cap, total_cap]
                )
            )
        )

    def delete(self, *keys: str) -> None:
        if keys:
            self._call(self.client.delete, *[self._k(k) for k in keys])

    def ttl(self, key: str) -> int | None:
        """Seconds the key has left; None when it has no lifetime or is missing."""
        left = self._call(self.client.ttl, self._k(key))
        return left if left >= 0 else None

    def clear(self) -> None:
        """Deletes every key of this store (tests)."""
        for key in self.client.scan_iter(match=self.prefix + "*", count=500):
            self.client.delete(key)


class MemoryStore:
    """The same operations on dictionaries, for one process without Redis."""

    def __init__(self):
        self.lock = threading.Lock()
        self.values: dict = {}
        self.expiry: dict = {}

    def _live(self, key):
        expires = self.expiry.get(key)
        if expires is not None and expires < time.monotonic():
            self.values.pop(key, None)
            self.expiry.pop(key, None)
        return self.values.get(key)

    def _expire(self, key, ttl):
        if ttl:
            self.expiry[key] = time.monotonic() + ttl
        else:
            self.expiry.pop(key, None)

    def get(self, key):
        with self.lock:
            value = self._live(key)
        return None if value is None else str(value).encode()

    def get_object(self, key):
        with self.lock:
            raw = self._live(key)
        return pickle.loads(raw) if raw is not None else None  # noqa: S301

    def set_object(self, key, value, ttl=None):
        with self.lock:
            self.values[key] = pickle.dumps(value)
            self._expire(key, ttl)

    def set(self, key, value, ttl=None, nx=False):
        with self.lock:
            if nx and self._live(key) is not None:
                return False
            self.values[key] = int(value) if str(value).lstrip("-").isdigit() else value
            self._expire(key, ttl)
            return True

    def add(self, key, ttl):
        return self.set(key, 1, ttl=ttl, nx=True)

    def mget(self, keys):
        with self.lock:
            return [
                None if (v := self._live(k)) is None else str(v).encode() for k in keys
            ]

    def incr(self, key, amount=1, ttl=None):
        with self.lock:
            value = int(self._live(key) or 0) + amount
            self.values[key] = value
            if ttl:
                self._expire(key, ttl)
            return value

    def add_many(self, counters, ttl):
        with self.lock:
            for key, n in counters.items():
                self.values[key] = int(self._live(key) or 0) + n
                self._expire(key, ttl)

    def bill(self, *, keys, amount, day_cap, total_cap):
        day_key, total_key, adv_key, credit_key = keys
        with self.lock:
            total, adv, credit = (self._live(k) for k in keys[1:])
            if total is None or adv is None or credit is None:
                return -1
            day = int(self._live(day_key) or 0)
            if (
                day + amount > day_cap
                or int(total) + amount > total_cap
                or int(adv) + amount > int(credit)
            ):
                return 0
            self.values[day_key] = day + amount
            self._expire(day_key, 259200)
            self.values[total_key] = int(total) + amount
            self.values[adv_key] = int(adv) + amount
            return 1

    def ttl(self, key):
        with self.lock:
            expires = self.expiry.get(key) if self._live(key) is not None else None
        return None if expires is None else round(expires - time.monotonic())

    def delete(self, *keys):
        with self.lock:
            for key in keys:
                self.values.pop(key, None)
                self.expiry.pop(key, None)

    def clear(self):
        with self.lock:
            self.values.clear()
            self.expiry.clear()


_store: dict = {}


def get_store():
    """The store for this process: Redis when `REDIS_URL` is set."""
    found = _store.get("store")
    if found is not None:
        return found
    if settings.REDIS_URL:
        import redis

        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_connect_timeout=0.5, socket_timeout=0.5
        )
        store = RedisStore(client, settings.REDIS_KEY_PREFIX)
    else:
        store = MemoryStore()
    _store["store"] = store
    return store


def reset_store() -> None:
    """Forgets the store (tests, and settings changes)."""
    _store.clear()
