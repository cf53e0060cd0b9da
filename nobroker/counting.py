"""
Counting off the page's path: the one place every app counts views,
impressions, clicks and the like.

A page never writes a row per event. It calls `count()` (a counter) or
`count_request()` (a counter plus a unique-visitor count for a request) and
moves on: on Redis the process's batch takes it and a thread writes the batch
every quarter second in one pipeline (`DeferredWrites`), on the embedded
default a dictionary update in the process. A task (`flush_counts`, every minute) later
moves what was counted into the database through an *apply function* the
owning app registers for its metric, into whatever daily rollup rows the app
keeps.

Names
    A *metric* is a dotted name owned by one app (`listing.view`,
    `ad.impression`). Counts are kept by (metric, day, key), where the day is
    the local date (`TIME_ZONE`) and the key is any short string the app
    chooses (a listing id, `"loc:12:flat"`).

Registering a metric (in the app's `AppConfig.ready()`)::

    counting.register(
        "listing.view",
        apply=apply_views,          # (day, {key: amount}) -> None, adds
        apply_unique=apply_uniques  # (day, {key: unique so far}) -> None, sets
    )

    `apply` runs inside a transaction and must *add* the amounts (an
    `F() +` update or an upsert). `apply_unique` receives the number of
    distinct visitors for the whole day so far (a HyperLogLog estimate, about
    1% off at large counts, exact enough below a few hundred) and must *set*
    it: it is not additive across flushes. Keep the larger of the stored and
    the given value (`Greatest`), since a visitor set that expired reads 0.

Exactly once
    A flush atomically RENAMEs each live counter to a batch key named by a
    fresh batch id, then applies each batch inside a database transaction that
    also inserts the batch id into `CountBatch` (unique), and only then deletes
    the batch key. A flush that runs twice, or two flushers at once, apply a
    batch once: the second finds (or collides with) the recorded id and only
    deletes the key. A crash after the apply but before the delete leaves a
    batch that the next flush recognises as applied. Unique counts are set,
    not added, so re-applying them is harmless.

Who is counted
    `is_countable(request)` is False for crawlers (by user agent, with the
    crawlerdetect patterns), for prefetches and prerenders (Sec-Purpose,
    Purpose, X-Purpose, X-Moz headers) and for anything but GET. A visitor is
    identified only by `visitor_hash(request)`: an HMAC of the user id, or of
    the client address (taken through `PROXY_COUNT` trusted proxies) and the
    user agent, under a random key made for the day and deleted after it. Raw
    addresses and user agents are never stored. An anonymous person who sends
    Do-Not-Track or Global Privacy Control has no hash: they count in the
    totals only, never in unique visitors.

Without Redis
    The embedded default keeps counts in the process, behind the same
    interface. Another process cannot see them, so the web process flushes
    them itself every `COUNTING_LOCAL_FLUSH_SECONDS` (a daemon thread started
    on the first count; off in tests, which call `flush()`), and `flush()`
    called in that process does the same at once.

Switched off
    `COUNTING_ENABLED=0` keeps nothing (an operator's switch, and the
    benchmark's baseline); pages run exactly as with counting on.

Redis outage
    Counting is skipped (one log line per minute at most) and the page goes on;
    after a failure counting pauses for a few seconds so a hung Redis costs
    pages at most one socket timeout. Lost counts are simply not counted: no
    figure, and nothing charged, is made up for them.
"""

from __future__ import annotations

import atexit
import hashlib
import hmac
import logging
import secrets
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone

from nobroker.ratelimits import request_address

logger = logging.getLogger(__name__)

ApplyCounts = Callable[[date, dict[str, int]], None]

# Live and batch keys outlive any reasonable gap between flushes; applied batch
# ids are kept longer than any batch key can live, so a late re-run still
# recognises them.
KEY_TTL_SECONDS = 3 * 24 * 3600
APPLIED_KEEP_DAYS = 7
# After a Redis error, counting pauses this long before trying again.
OUTAGE_PAUSE_SECONDS = 5.0
OUTAGE_LOG_SECONDS = 60.0

PREFETCH_HEADERS = ("HTTP_SEC_PURPOSE", "HTTP_PURPOSE", "HTTP_X_PURPOSE", "HTTP_X_MOZ")
PREFETCH_WORDS = ("prefetch", "prerender", "preview")


@dataclass(frozen=True)
class Metric:
    name: str
    apply: ApplyCounts
    apply_unique: ApplyCounts | None = None


_metrics: dict[str, Metric] = {}


def register(
    name: str, *, apply: ApplyCounts, apply_unique: ApplyCounts | None = None
) -> None:
    """Names the functions that move `name`'s counts into the database."""
    _metrics[name] = Metric(name=name, apply=apply, apply_unique=apply_unique)


def registered() -> dict[str, Metric]:
    return dict(_metrics)


# --- Figures read from the daily rows ---------------------------------------
# Whatever is cached from the daily rows (the staff dashboard's figures) is
# cached under this number, which every flush that applied something and every
# nightly rollup moves on: a stale figure is never read again and expires.

ROWS_VERSION_KEY = "counting:rows-version"


def rows_version() -> int:
    """The number the daily rows are at now (see rows_changed)."""
    version = cache.get(ROWS_VERSION_KEY)
    if version is None:
        cache.add(ROWS_VERSION_KEY, 1, None)
        version = cache.get(ROWS_VERSION_KEY) or 1
    return version


def rows_changed() -> None:
    """Daily rows were written: figures cached from them are stale (from the
    commit on)."""

    def bump():
        try:
            cache.incr(ROWS_VERSION_KEY)
        except ValueError:
            cache.set(ROWS_VERSION_KEY, 2, None)

    transaction.on_commit(bump)


# --- Who is counted ---------------------------------------------------------


@lru_cache(maxsize=1)
def _crawler_detector():
    from crawlerdetect import CrawlerDetect

    return CrawlerDetect()


@lru_cache(maxsize=4096)
def is_crawler(user_agent: str) -> bool:
    """A bot, crawler, spider or link previewer, judged by its user agent."""
    if not user_agent.strip():
        return True  # Browsers always send one.
    return _crawler_detector().isCrawler(user_agent)


def is_prefetch(request) -> bool:
    """A speculative load (prefetch, prerender, preview) rather than a visit."""
    for header in PREFETCH_HEADERS:
        value = request.META.get(header, "").lower()
        if value and any(word in value for word in PREFETCH_WORDS):
            return True
    return False


def is_countable(request) -> bool:
    """Whether this request is a person looking at the page."""
    if request.method != "GET":
        return False
    if is_prefetch(request):
        return False
    return not is_crawler(request.META.get("HTTP_USER_AGENT", ""))


def wants_no_tracking(request) -> bool:
    """Do-Not-Track or Global Privacy Control is on."""
    return (
        request.META.get("HTTP_DNT") == "1" or request.META.get("HTTP_SEC_GPC") == "1"
    )


def visitor_hash(request, *, day: date | None = None) -> str | None:
    """
    A visitor's identity for unique counts on `day`, never reversible to an
    address or user agent, and unlinkable across days once the day's key is
    deleted. None for an anonymous person asking not to be tracked.
    """
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        subject = f"u:{user.pk}"
    elif wants_no_tracking(request):
        return None
    else:
        subject = (
            f"a:{request_address(request)}|{request.META.get('HTTP_USER_AGENT', '')}"
        )
    day = day or timezone.localdate()
    key = backend().day_key(day)
    if key is None:
        return None
    return hmac.new(key, subject.encode(), hashlib.sha256).hexdigest()[:32]


# --- Counting ---------------------------------------------------------------


def count(metric: str, *keys: str | int, amount: int = 1, day=None) -> None:
    """Adds `amount` to `metric` for each key on `day` (today)."""
    day = day or timezone.localdate()
    backend().add(counts=[(metric, day, str(key), amount) for key in keys], uniques=[])


def count_on_commit(metric: str, *keys: str | int, amount: int = 1) -> None:
    """`count()` once the current transaction commits: a rolled-back action is
    not counted."""
    transaction.on_commit(lambda: count(metric, *keys, amount=amount))


def count_unique(metric: str, visitor: str, *keys: str | int, day=None) -> None:
    """Records `visitor` (a `visitor_hash`) among `metric`'s visitors per key."""
    day = day or timezone.localdate()
    backend().add(counts=[], uniques=[(metric, day, str(key), visitor) for key in keys])


def count_request(request, metric: str, *keys: str | int) -> bool:
    """
    Counts one event of `metric` for each key, and the request's visitor among
    its unique visitors, when the request is countable. One round trip.
    Returns whether it counted.
    """
    if not is_countable(request):
        return False
    day = timezone.localdate()
    visitor = visitor_hash(request, day=day)
    backend().add(
        counts=[(metric, day, str(key), 1) for key in keys],
        uniques=([(metric, day, str(key), visitor) for key in keys] if visitor else []),
    )
    return True


# --- Flushing ---------------------------------------------------------------


@dataclass
class FlushResult:
    batches: int = 0
    skipped: int = 0
    events: int = 0
    unique_keys: int = 0


def flush(*, metrics: Iterable[str] | None = None) -> FlushResult:
    """
    Moves everything counted so far into the database, exactly once, through
    each metric's apply functions. Safe to run twice and from two places.
    """
    from nobroker.models import CountBatch

    wanted = set(metrics) if metrics is not None else set(_metrics)
    store = backend()
    if isinstance(store, DeferredWrites):
        store.write()  # this process's own latest counts go in this flush
    result = FlushResult()
    for batch in store.claim_batches(wanted):
        metric = _metrics.get(batch.metric)
        if metric is None:
            continue
        if CountBatch.objects.filter(batch_id=batch.batch_id).exists():
            store.drop_batch(batch)
            result.skipped += 1
            continue
        counts = store.read_batch(batch)
        try:
            with transaction.atomic():
                CountBatch.objects.create(
                    batch_id=batch.batch_id, metric=batch.metric, day=batch.day
                )
                if counts:
                    metric.apply(batch.day, counts)
        except IntegrityError:
            # Another flusher applied this batch between the check and here.
            result.skipped += 1
        else:
            result.batches += 1
            result.events += sum(counts.values())
        store.drop_batch(batch)
    for unique_batch in store.claim_uniques(wanted):
        metric = _metrics[unique_batch.metric]
        if metric.apply_unique is not None and unique_batch.counts:
            with transaction.atomic():
                metric.apply_unique(unique_batch.day, unique_batch.counts)
            result.unique_keys += len(unique_batch.counts)
        store.drop_uniques(unique_batch)
    CountBatch.objects.filter(
        applied_at__lt=timezone.now() - timedelta(days=APPLIED_KEEP_DAYS)
    ).delete()
    if result.batches or result.unique_keys:
        rows_changed()
    return result


# --- Storage ----------------------------------------------------------------


@dataclass(frozen=True)
class Batch:
    batch_id: str
    metric: str
    day: date
    handle: object  # the backend's own reference (a Redis key, a dict key)


@dataclass(frozen=True)
class UniqueBatch:
    """Claimed keys of one metric and day with their unique counts so far."""

    metric: str
    day: date
    counts: dict[str, int]
    handle: object


class OffBackend:
    """Counting switched off (`COUNTING_ENABLED=0`): nothing kept, nothing to flush."""

    def day_key(self, day: date) -> bytes | None:
        return None

    def add(self, *, counts, uniques) -> None:
        return None

    def claim_batches(self, metrics: set[str]) -> list[Batch]:
        return []

    def claim_uniques(self, metrics: set[str]) -> list[UniqueBatch]:
        return []


class LocalBackend:
    """Counts in this process: the embedded default, without Redis."""

    def __init__(self):
        self.lock = threading.Lock()
        self.live: dict[tuple[str, date], dict[str, int]] = defaultdict(
            lambda: defaultdict(int)
        )
        self.batches: dict[str, Batch] = {}
        self.batch_counts: dict[str, dict[str, int]] = {}
        self.uniques: dict[tuple[str, date, str], set[str]] = defaultdict(set)
        self.dirty: dict[tuple[str, date], set[str]] = defaultdict(set)
        self.claims: dict[str, tuple[str, date, set[str]]] = {}
        self.cleaned_on: date | None = None
        self.keys: dict[date, bytes] = {}
        self.flusher: threading.Thread | None = None

    def day_key(self, day: date) -> bytes | None:
        with self.lock:
            for old in [d for d in self.keys if d < day - timedelta(days=1)]:
                del self.keys[old]  # Yesterday's key goes for good.
            return self.keys.setdefault(day, secrets.token_bytes(32))

    def add(self, *, counts, uniques) -> None:
        with self.lock:
            for metric, day, key, amount in counts:
                self.live[(metric, day)][key] += amount
            for metric, day, key, visitor in uniques:
                self.uniques[(metric, day, key)].add(visitor)
                self.dirty[(metric, day)].add(key)
            self._forget_old_uniques()
        self._start_flusher()

    def _forget_old_uniques(self) -> None:
        """Once a day: visitor sets older than yesterday go (as Redis expires them)."""
        today = timezone.localdate()
        if self.cleaned_on == today:
            return
        self.cleaned_on = today
        oldest = today - timedelta(days=2)
        for key in [k for k in self.uniques if k[1] < oldest]:
            del self.uniques[key]

    def claim_batches(self, metrics: set[str]) -> list[Batch]:
        with self.lock:
            for metric, day in [k for k in self.live if k[0] in metrics]:
                batch = Batch(uuid.uuid4().hex, metric, day, None)
                self.batches[batch.batch_id] = batch
                self.batch_counts[batch.batch_id] = dict(self.live.pop((metric, day)))
            return [b for b in self.batches.values() if b.metric in metrics]

    def read_batch(self, batch: Batch) -> dict[str, int]:
        with self.lock:
            return dict(self.batch_counts.get(batch.batch_id, {}))

    def drop_batch(self, batch: Batch) -> None:
        with self.lock:
            self.batches.pop(batch.batch_id, None)
            self.batch_counts.pop(batch.batch_id, None)

    def claim_uniques(self, metrics: set[str]) -> list[UniqueBatch]:
        with self.lock:
            for metric, day in [k for k in self.dirty if k[0] in metrics]:
                claim = uuid.uuid4().hex
                self.claims[claim] = (metric, day, self.dirty.pop((metric, day)))
            return [
                UniqueBatch(
                    metric,
                    day,
                    {k: len(self.uniques.get((metric, day, k), ())) for k in keys},
                    handle=claim,
                )
                for claim, (metric, day, keys) in self.claims.items()
                if metric in metrics
            ]

    def drop_uniques(self, batch: UniqueBatch) -> None:
        with self.lock:
            self.claims.pop(batch.handle, None)

    def _start_flusher(self) -> None:
        seconds = settings.COUNTING_LOCAL_FLUSH_SECONDS
        if seconds <= 0 or (self.flusher is not None and self.flusher.is_alive()):
            return
        self.flusher = threading.Thread(
            target=_flush_periodically, args=(seconds,), daemon=True, name="counting"
        )
        self.flusher.start()


def _flush_periodically(seconds: float) -> None:
    from django.db import close_old_connections

    while True:
        time.sleep(seconds)
        try:
            flush()
        except Exception:
            logger.exception("Could not flush the counts")
        finally:
            close_old_connections()


class RedisBackend:
    """
    Counts in Redis, shared by every process.

    Keys (under `REDIS_KEY_PREFIX`):
        count:live:<metric>:<day>          hash key -> amount
        count:batch:<metric>:<day>:<id>    a claimed live hash, until applied
        uniq:<metric>:<day>:<key>          HyperLogLog of visitor hashes
        uniq:dirty:<metric>:<day>          set of keys with new visitors
        uniq:claim:<metric>:<day>:<id>     a claimed dirty set, until applied
        count:daykey:<day>                 the day's visitor-hash key
    """

    def __init__(self, url: str, prefix: str):
        import redis

        # Pages wait at most half a second for Redis; the flush (a task, not a
        # page) reads large batches and may wait longer.
        self.client = redis.Redis.from_url(
            url, socket_connect_timeout=0.5, socket_timeout=0.5
        )
        self.flush_client = redis.Redis.from_url(
            url, socket_connect_timeout=5, socket_timeout=30
        )
        self.prefix = f"{prefix}:counting:"
        self.day_keys: dict[date, bytes] = {}
        self.paused_until = 0.0
        self.last_logged = 0.0

    def _k(self, *parts) -> str:
        return self.prefix + ":".join(str(p) for p in parts)

    def _failed(self, error: Exception) -> None:
        now = time.monotonic()
        self.paused_until = now + OUTAGE_PAUSE_SECONDS
        if now - self.last_logged >= OUTAGE_LOG_SECONDS:
            self.last_logged = now
            logger.warning("Counting skipped, Redis unavailable: %s", error)

    def _available(self) -> bool:
        return time.monotonic() >= self.paused_until

    def day_key(self, day: date) -> bytes | None:
        key = self.day_keys.get(day)
        if key is not None:
            return key
        if not self._available():
            return None
        from redis.exceptions import RedisError

        name = self._k("count", "daykey", day.isoformat())
        try:
            # The key lives until the end of the next day, then Redis deletes it.
            expires = _end_of(day + timedelta(days=1))
            pipe = self.client.pipeline(transaction=False)
            pipe.set(name, secrets.token_bytes(32), nx=True, exat=expires)
            pipe.get(name)
            key = pipe.execute()[1]
        except RedisError as error:
            self._failed(error)
            return None
        self.day_keys = {d: k for d, k in self.day_keys.items() if d >= day}
        self.day_keys[day] = key
        return key

    def add(self, *, counts, uniques) -> None:
        if not (counts or uniques) or not self._available():
            return
        from redis.exceptions import RedisError

        pipe = self.client.pipeline(transaction=False)
        expiring = set()  # each key's lifetime renewed once per call
        for metric, day, key, amount in counts:
            name = self._k("count", "live", metric, day.isoformat())
            pipe.hincrby(name, key, amount)
            expiring.add(name)
        for metric, day, key, visitor in uniques:
            hll = self._k("uniq", metric, day.isoformat(), key)
            dirty = self._k("uniq", "dirty", metric, day.isoformat())
            pipe.pfadd(hll, visitor)
            pipe.sadd(dirty, key)
            expiring.update((hll, dirty))
        for name in expiring:
            pipe.expire(name, KEY_TTL_SECONDS)
        try:
            pipe.execute()
        except RedisError as error:
            self._failed(error)

    def _scan(self, pattern: str) -> list[str]:
        return [
            k.decode() for k in self.flush_client.scan_iter(match=pattern, count=1000)
        ]

    def claim_batches(self, metrics: set[str]) -> list[Batch]:
        from redis.exceptions import ResponseError

        live_prefix = self._k("count", "live", "")
        for name in self._scan(live_prefix + "*"):
            metric, day = name[len(live_prefix) :].rsplit(":", 1)
            if metric not in metrics:
                continue
            batch_name = self._k("count", "batch", metric, day, uuid.uuid4().hex)
            try:
                self.flush_client.rename(name, batch_name)
            except ResponseError:
                continue  # Another flusher claimed it first.
            self.flush_client.expire(batch_name, KEY_TTL_SECONDS)
        batch_prefix = self._k("count", "batch", "")
        batches = []
        for name in self._scan(batch_prefix + "*"):
            metric, day, batch_id = name[len(batch_prefix) :].rsplit(":", 2)
            if metric in metrics:
                batches.append(
                    Batch(batch_id, metric, date.fromisoformat(day), handle=name)
                )
        return batches

    def read_batch(self, batch: Batch) -> dict[str, int]:
        # In slices: a busy day's batch holds hundreds of thousands of keys.
        return {
            k.decode(): int(v)
            for k, v in self.flush_client.hscan_iter(batch.handle, count=5000)
        }

    def drop_batch(self, batch: Batch) -> None:
        self.flush_client.delete(batch.handle)

    def claim_uniques(self, metrics: set[str]):
        from redis.exceptions import ResponseError

        dirty_prefix = self._k("uniq", "dirty", "")
        for name in self._scan(dirty_prefix + "*"):
            metric, day = name[len(dirty_prefix) :].rsplit(":", 1)
            if metric not in metrics:
                continue
            try:
                self.flush_client.rename(
                    name, self._k("uniq", "claim", metric, day, uuid.uuid4().hex)
                )
            except ResponseError:
                continue
        claim_prefix = self._k("uniq", "claim", "")
        batches = []
        for name in self._scan(claim_prefix + "*"):
            metric, day, _ = name[len(claim_prefix) :].rsplit(":", 2)
            if metric not in metrics:
                continue
            keys = sorted(
                k.decode() for k in self.flush_client.sscan_iter(name, count=5000)
            )
            counts = {}
            for start in range(0, len(keys), 1000):
                chunk = keys[start : start + 1000]
                pipe = self.flush_client.pipeline(transaction=False)
                for key in chunk:
                    pipe.pfcount(self._k("uniq", metric, day, key))
                counts.update(zip(chunk, pipe.execute(), strict=True))
            batches.append(
                UniqueBatch(metric, date.fromisoformat(day), counts, handle=name)
            )
        return batches

    def drop_uniques(self, batch: UniqueBatch) -> None:
        self.flush_client.delete(batch.handle)


def _end_of(day: date) -> datetime:
    """The first moment after `day`, local time."""
    return timezone.make_aware(
        datetime.combine(day + timedelta(days=1), datetime.min.time())
    )


WRITE_EVERY_SECONDS = 0.25


class DeferredWrites:
    """
    Redis counting kept off the page's path (`COUNTING_DEFER_WRITES`, on
    outside tests): a page's counts are added to this process's batch, which
    a thread writes every quarter second in one pipeline, and once more when
    the process exits. A page then costs no round trip for counting; a process
    killed outright loses at most that quarter second of counts. Everything
    else (day keys, flushing) goes straight to the Redis store.
    """

    def __init__(self, store: RedisBackend):
        self.store = store
        self.lock = threading.Lock()
        self.counts: dict[tuple, int] = defaultdict(int)
        self.uniques: set[tuple] = set()
        self.started = False

    def __getattr__(self, name):
        return getattr(self.store, name)

    def add(self, *, counts, uniques) -> None:
        with self.lock:
            for metric, day, key, amount in counts:
                self.counts[(metric, day, key)] += amount
            self.uniques.update(uniques)
            if self.started:
                return
            self.started = True
        atexit.register(self.write)
        threading.Thread(target=self._loop, daemon=True, name="counting").start()

    def write(self) -> None:
        """Writes this process's batch now."""
        with self.lock:
            counts, self.counts = self.counts, defaultdict(int)
            uniques, self.uniques = self.uniques, set()
        if counts or uniques:
            self.store.add(
                counts=[(m, day, key, n) for (m, day, key), n in counts.items()],
                uniques=list(uniques),
            )

    def _loop(self) -> None:
        while True:
            time.sleep(WRITE_EVERY_SECONDS)
            try:
                self.write()
            except Exception:  # The loop must outlive one bad write; it is logged.
                logger.exception("Counts could not be written")


_backend: LocalBackend | RedisBackend | DeferredWrites | OffBackend | None = None
_backend_lock = threading.Lock()


def backend() -> LocalBackend | RedisBackend | DeferredWrites | OffBackend:
    """The counting store: Redis when `REDIS_URL` is set, this process otherwise."""
    global _backend
    if _backend is None:
        with _backend_lock:
            if _backend is None:
                if not settings.COUNTING_ENABLED:
                    _backend = OffBackend()
                elif settings.REDIS_URL:
                    _backend = RedisBackend(
                        settings.REDIS_URL, settings.REDIS_KEY_PREFIX
                    )
                    if settings.COUNTING_DEFER_WRITES:
                        _backend = DeferredWrites(_backend)
                else:
                    _backend = LocalBackend()
    return _backend


def reset_backend() -> None:
    """Forgets the store (tests, and settings changes)."""
    global _backend
    with _backend_lock:
        _backend = None
