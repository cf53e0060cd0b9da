import asyncio
import contextlib
import logging
import sys

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.core.cache import cache
from django.db import (
    DEFAULT_DB_ALIAS,
    InterfaceError,
    OperationalError,
    connection,
    connections,
)
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from listings.models import Locality
from nobroker import page_cache
from nobroker.channel_layers import channel_end

logger = logging.getLogger(__name__)


def home(request):
    if (cached := page_cache.serve(request)) is not None:
        return cached
    localities = Locality.objects.for_picker()
    response = render(request, "home.html", {"localities": localities})
    return page_cache.keep(request, response, "home.html")


@never_cache
def healthz(request):
    """Liveness: the process answers. Touches no dependency on purpose."""
    return HttpResponse("ok", content_type="text/plain")


# Seconds /readyz waits for a connection from the pages' pool. A pool that
# cannot lend one this fast is exhausted as far as a load balancer should care.
READY_POOL_TIMEOUT = 1.0


def _database_pool():
    """Django's connection pool the pages borrow from (None on SQLite)."""
    return getattr(connections[DEFAULT_DB_ALIAS], "pool", None)


def _check_database() -> None:
    """`SELECT 1` on a connection lent by the pages' own pool, when there is one."""
    pool = _database_pool()
    if pool is None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchone()
        finally:
            # A worker thread of the event loop, not a request's: no request
            # end closes its connection.
            connection.close()
        return
    pool.open()
    with pool.connection(timeout=READY_POOL_TIMEOUT) as conn:
        conn.execute("SELECT 1").fetchone()


def _pool_numbers() -> dict | None:
    pool = _database_pool()
    if pool is None:
        return None
    stats = pool.get_stats()
    return {
        "size": stats["pool_size"],
        "idle": stats["pool_available"],
        "waiting": stats["requests_waiting"],
        "max": stats["pool_max"],
    }


def _check_cache() -> None:
    # django-redis is set to swallow errors for page traffic; readiness asks Redis
    # directly so an outage shows here instead of hiding as cache misses.
    client = getattr(cache, "client", None)
    if client is not None and hasattr(client, "get_client"):
        client.get_client(write=True).ping()
        return
    cache.set("readyz", "1", 5)
    if cache.get("readyz") != "1":
        raise RuntimeError("cache did not return what was stored")


async def _check_channel_layer() -> None:
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer configured")
    channel = await layer.new_channel()
    receiver = asyncio.ensure_future(layer.receive(channel))
    try:
        # The pub/sub layer only delivers to a subscribed channel: let receive()
        # subscribe.
        await asyncio.sleep(0.01)
        await layer.send(channel, {"type": "readyz.ping"})
        message = await receiver
        if message.get("type") != "readyz.ping":
            raise RuntimeError("channel layer returned another message")
    finally:
        receiver.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await receiver
        # Else every check would leave its channel subscribed, for good.
        await channel_end(layer, channel)


@never_cache
async def readyz(request):
    """
    Readiness: database, cache and channel layer each answer within 2 seconds.

    The database check borrows a connection from the pool the pages use, so a
    process whose pool is exhausted (or that cannot reach PostgreSQL) answers
    503 and the load balancer sends its visitors elsewhere. The pool's numbers
    come with the answer.
    """
    checks = {
        # Off the request's own thread: it takes no Django connection there.
        "database": sync_to_async(_check_database, thread_sensitive=False),
        "cache": sync_to_async(_check_cache, thread_sensitive=False),
        "channel_layer": _check_channel_layer,
    }
    results = {}
    for name, check in checks.items():
        try:
            await asyncio.wait_for(check(), timeout=2)
            results[name] = "ok"
        except Exception as exc:  # any failure means "not ready", with its reason
            logger.warning("readyz: %s failed: %s", name, exc)
            results[name] = f"failed: {type(exc).__name__}"
    failed = [name for name, result in results.items() if result != "ok"]
    body = {"status": "ok" if not failed else "unavailable", "checks": results}
    if failed:
        body["failed"] = failed
    pool = _pool_numbers()
    if pool is not None:
        body["pool"] = pool
    return JsonResponse(body, status=503 if failed else 200)


def permission_denied(request, exception=None):
    return render(request, "403.html", status=403)


def page_not_found(request, exception=None):
    return render(request, "404.html", status=404)


def server_error(request):
    """The error page, without context processors: the database may be the cause.

    When it is (PostgreSQL stopped, or no pooled connection within the pool's
    timeout) the visitor gets a 503 saying so, with a hint to retry.
    """
    from django.template import loader

    if isinstance(sys.exc_info()[1], (OperationalError, InterfaceError)):
        response = HttpResponse(loader.get_template("503.html").render(), status=503)
        response["Retry-After"] = "30"
        return response
    return HttpResponse(loader.get_template("500.html").render(), status=500)
