"""
Prometheus metrics, with prometheus-client, served at /metrics.

Several web processes and workers: set PROMETHEUS_MULTIPROC_DIR to an empty
folder shared by every process of one machine before they start (and empty it
on each start); each process writes its numbers there and a scrape of any one
process reads them all (prometheus-client's multiprocess mode). Without it
each process answers for itself only, which is right for one process.

Who may scrape: a request with `Authorization: Bearer $METRICS_TOKEN`, or one
from METRICS_ALLOWED_NETWORKS (client address as nobroker/ratelimits.py finds
it). Anyone else gets a 404, as if there were nothing here.

The numbers:
- nobroker_http_request_duration_seconds{view,method,status}: latency histogram
  (its _count is the request count, status 5xx the errors);
- nobroker_http_exceptions_total{view}: unhandled exceptions;
- nobroker_http_request_queries{view}: SQL statements per request;
- nobroker_cache_requests_total{use,result}: cache hits and misses by use;
- nobroker_db_pool_{size,in_use,waiting}{pool}: per process (pid label);
- nobroker_websockets_open: open websocket connections;
- nobroker_messages_total, nobroker_tasks_waiting, nobroker_tasks_oldest_waiting_seconds:
  read from the database at scrape time.
"""

import hmac
import ipaddress
import os
import time

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connection, connections
from django.http import Http404, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from nobroker.middleware import QueryTimer

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))

# The page target is 200 ms, so the buckets are fine around it.
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2.5, 5, 10)
QUERY_BUCKETS = (0, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89)

REQUEST_DURATION = Histogram(
    "nobroker_http_request_duration_seconds",
    "Time to answer a request, by view, method and status.",
    ["view", "method", "status"],
    buckets=LATENCY_BUCKETS,
)
EXCEPTIONS = Counter(
    "nobroker_http_exceptions",
    "Requests that ended in an unhandled exception, by view.",
    ["view"],
)
REQUEST_QUERIES = Histogram(
    "nobroker_http_request_queries",
    "SQL statements run while answering a request, by view.",
    ["view"],
    buckets=QUERY_BUCKETS,
)
CACHE_REQUESTS = Counter(
    "nobroker_cache_requests",
    "Cache lookups by use (search, cards, listing_page, sessions, ...) and result.",
    ["use", "result"],
)
POOL_SIZE = Gauge(
    "nobroker_db_pool_size",
    "Connections the pool holds, per process.",
    ["pool"],
    multiprocess_mode="liveall",
)
POOL_IN_USE = Gauge(
    "nobroker_db_pool_in_use",
    "Connections handed out, per process.",
    ["pool"],
    multiprocess_mode="liveall",
)
POOL_MAX = Gauge(
    "nobroker_db_pool_max",
    "Largest size the pool may grow to, per process.",
    ["pool"],
    multiprocess_mode="liveall",
)
POOL_WAITING = Gauge(
    "nobroker_db_pool_waiting",
    "Requests waiting for a connection, per process.",
    ["pool"],
    multiprocess_mode="liveall",
)
WEBSOCKETS_OPEN = Gauge(
    "nobroker_websockets_open",
    "Open websocket connections.",
    multiprocess_mode="livesum",
)


# --- Cache lookups ----------------------------------------------------------------


def count_cache(use: str, *, hits: int, misses: int) -> None:
    if hits:
        CACHE_REQUESTS.labels(use, "hit").inc(hits)
    if misses:
        CACHE_REQUESTS.labels(use, "miss").inc(misses)


def cache_get(use: str, key: str):
    """`cache.get(key)`, counted as a hit or a miss of `use`."""
    value = cache.get(key)
    count_cache(use, hits=value is not None, misses=value is None)
    return value


def cache_get_many(use: str, keys: list[str]) -> dict:
    """`cache.get_many(keys)`, each key counted as a hit or a miss of `use`."""
    found = cache.get_many(keys)
    count_cache(use, hits=len(found), misses=len(keys) - len(found))
    return found


# --- Pools and sockets ------------------------------------------------------------


def _pools() -> dict:
    """The psycopg pools of this process: Django's and the event loops' own."""
    from nobroker import async_db

    pools = {}
    database = connections["default"]
    django_pool = (
        type(database)._connection_pools.get("default")
        if database.vendor == "postgresql"
        else None
    )
    if django_pool is not None:
        pools["django"] = [django_pool]
    loop_pools = [
        pool
        for by_alias in list(async_db._pools.values())
        for pool in list(by_alias.values())
    ]
    if loop_pools:
        pools["event_loop"] = loop_pools
    return pools


# Each pool's four gauges, looked up once per process (after every request).
_pool_gauges: dict = {}


def update_pool_gauges() -> None:
    for name, pools in _pools().items():
        size = in_use = waiting = largest = 0
        for pool in pools:
            stats = pool.get_stats()
            size += stats.get("pool_size", 0)
            in_use += stats.get("pool_size", 0) - stats.get("pool_available", 0)
            waiting += stats.get("requests_waiting", 0)
            largest += pool.max_size
        gauges = _pool_gauges.get(name)
        if gauges is None:
            gauges = _pool_gauges[name] = tuple(
                gauge.labels(name)
                for gauge in (POOL_SIZE, POOL_IN_USE, POOL_WAITING, POOL_MAX)
            )
        for gauge, value in zip(gauges, (size, in_use, waiting, largest), strict=True):
            gauge.set(value)


def websocket_opened() -> None:
    WEBSOCKETS_OPEN.inc()


def websocket_closed() -> None:
    WEBSOCKETS_OPEN.dec()


# --- Requests ---------------------------------------------------------------------


class MetricsMiddleware:
    """Times each request and counts its SQL statements, by view and status."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        timer = QueryTimer()
        started = time.perf_counter()
        try:
            with connection.execute_wrapper(timer):
                response = self.get_response(request)
        except BaseException:
            # The error page itself failed (a template or static file missing,
            # say): the client gets a 500 from the handler, so count one.
            self._observe(request, "500", started, timer)
            raise
        self._observe(request, str(response.status_code), started, timer)
        return response

    def _observe(self, request, status: str, started: float, timer) -> None:
        match = getattr(request, "resolver_match", None)
        view = match.view_name if match else "unresolved"
        if view == "metrics":
            return  # A scrape is not site traffic.
        REQUEST_DURATION.labels(view, request.method, status).observe(
            time.perf_counter() - started
        )
        REQUEST_QUERIES.labels(view).observe(timer.count)
        update_pool_gauges()

    def process_exception(self, request, exception):
        match = request.resolver_match
        EXCEPTIONS.labels(match.view_name if match else "unresolved").inc()


# --- Read from the database at scrape time ----------------------------------------


class DatabaseCollector:
    """Figures that live in the database, read once per scrape."""

    def collect(self):
        from messaging.models import Message

        messages = CounterMetricFamily(
            "nobroker_messages", "Chat messages stored since the site began."
        )
        waiting = GaugeMetricFamily(
            "nobroker_tasks_waiting", "Background tasks ready to run and not started."
        )
        oldest = GaugeMetricFamily(
            "nobroker_tasks_oldest_waiting_seconds",
            "Age of the oldest task ready to run and not started (0 when none).",
        )
        try:
            last = Message.objects.order_by("-pk").values_list("pk", flat=True).first()
            messages.add_metric([], last or 0)
            depth, age = _task_queue()
            waiting.add_metric([], depth)
            oldest.add_metric([], age)
        except DatabaseError:
            return  # The database is down: /readyz says so, the rest still scrapes.
        yield messages
        yield waiting
        yield oldest


def _task_queue() -> tuple[int, float]:
    if "django_tasks_db" not in settings.TASKS["default"]["BACKEND"]:
        return 0, 0.0
    from django.db.models import Count, Min
    from django_tasks_db.models import DBTaskResult

    ready = DBTaskResult.objects.ready()
    found = ready.aggregate(depth=Count("pk"), first=Min("enqueued_at"))
    age = (timezone.now() - found["first"]).total_seconds() if found["first"] else 0.0
    return found["depth"], max(age, 0.0)


# --- The endpoint ---------------------------------------------------------------


def _allowed(request) -> bool:
    from nobroker.ratelimits import request_address

    token = settings.METRICS_TOKEN
    sent = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
        return True
    if settings.METRICS_ALLOWED_NETWORKS:
        try:
            address = ipaddress.ip_address(request_address(request))
        except ValueError:
            return False
        return any(
            address in ipaddress.ip_network(network, strict=False)
            for network in settings.METRICS_ALLOWED_NETWORKS
        )
    return False


def exposition() -> bytes:
    update_pool_gauges()
    database = CollectorRegistry()
    database.register(DatabaseCollector())
    if MULTIPROCESS:
        processes = CollectorRegistry()
        multiprocess.MultiProcessCollector(processes)
        return generate_latest(processes) + generate_latest(database)
    return generate_latest(REGISTRY) + generate_latest(database)


@never_cache
def metrics_view(request):
    if not _allowed(request):
        raise Http404
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
