"""
Rate limits of every write (and of search), in one table: LIMITS.

How to add your endpoint
------------------------
Add one row to LIMITS, keyed by the URL's full name ("app:name", as in
`{% url %}`). A row says how many requests of the listed methods one signed-in
user may make (`user`) and how many one client address may make (`address`).
Keep the address limit far higher than the user limit: most people in Nepal
reach the site through their mobile operator's shared addresses, so one address
can be thousands of people. Rates are "count/period" with the period one of
s, m, h, d ("30/h" is thirty an hour).

Optional extras:
- `email="3/h"`: per email address typed into the form's `email` field
  (password reset: no mail-bombing one inbox from many addresses);
- `device="5/h"`: per device cookie (sign-up: one phone cannot sign up
  dozens of accounts, while its neighbours on the same address still can);
- `methods`: which methods count, POST by default ({"GET"} for search);
- `template`: the 429 page to show instead of the generic one.

A route that never writes goes into NOT_LIMITED instead; a test fails for any
named route found in neither, so a new endpoint cannot be forgotten. Writes to
a route missing from both still get DEFAULT.

Over a limit the caller gets 429 with Retry-After: the friendly page, or JSON
for JSON callers. Counters live in the cache; while it is down no request is
refused (limits pause, the site keeps working).
"""

import hashlib
import ipaddress
import logging
import math
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.crypto import get_random_string
from django.utils.translation import gettext as _

from nobroker.counters import async_redis
from nobroker.numbers import shown

logger = logging.getLogger(__name__)

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
DEVICE_COOKIE = "nb_device"
DEVICE_COOKIE_AGE = 60 * 60 * 24 * 365


@dataclass(frozen=True)
class Limit:
    user: str | None = None
    address: str | None = None
    email: str | None = None
    device: str | None = None
    methods: frozenset[str] = field(default=frozenset({"POST"}))
    template: str = "429.html"


GET = frozenset({"GET"})

LIMITS: dict[str, Limit] = {
    # --- accounts -----------------------------------------------------------
    "accounts:signup": Limit(address="300/h", device="5/h"),
    # Per-account lockout is django-axes' job; this only caps one address.
    "accounts:login": Limit(address="600/h"),
    "accounts:logout": Limit(user="60/h", address="3000/h"),
    "accounts:verify_email": Limit(address="300/h", methods=GET),
    "accounts:resend_verification": Limit(user="5/h", address="300/h"),
    "accounts:profile": Limit(user="30/h", address="1000/h"),
    "accounts:delete": Limit(user="10/h", address="300/h"),
    "accounts:notifications": Limit(user="120/h", address="3000/h"),
    "accounts:password_change": Limit(user="10/h", address="300/h"),
    "accounts:password_reset": Limit(email="3/h", address="100/h"),
    "accounts:password_reset_confirm": Limit(address="300/h"),
    # --- listings -----------------------------------------------------------
    "listings:search": Limit(address="300/m", methods=GET),
    "listings:create": Limit(user="30/h", address="600/h"),
    "listings:edit": Limit(user="120/h", address="2000/h"),
    "listings:photos": Limit(user="120/h", address="2000/h"),
    "listings:photo_action": Limit(user="300/h", address="3000/h"),
    "listings:delete": Limit(user="60/h", address="1000/h"),
    "listings:action": Limit(user="120/h", address="2000/h"),
    "listings:shortlist_toggle": Limit(user="300/h", address="5000/h"),
    "listings:report": Limit(user="20/h", address="300/h"),
    # --- visits -------------------------------------------------------------
    # Enough visit requests to plan a weekend of visits, too few to flood owners.
    "visits:book": Limit(
        user="10/h", address="500/h", template="visits/too_many_requests.html"
    ),
    "visits:availability": Limit(user="60/h", address="1000/h"),
    "visits:confirm": Limit(user="300/h", address="3000/h"),
    "visits:decline": Limit(user="300/h", address="3000/h"),
    "visits:propose": Limit(user="120/h", address="2000/h"),
    "visits:accept": Limit(user="120/h", address="2000/h"),
    "visits:reject": Limit(user="120/h", address="2000/h"),
    "visits:cancel": Limit(user="120/h", address="2000/h"),
    "visits:outcome": Limit(user="300/h", address="3000/h"),
    "visits:feedback": Limit(user="60/h", address="1000/h"),
    # --- messaging (the websocket's sends count as messaging:detail) ---------
    "messaging:start": Limit(user="30/h", address="1000/h"),
    "messaging:detail": Limit(user="60/m", address="1200/m"),
    "messaging:block": Limit(user="30/h", address="600/h"),
    "messaging:unblock": Limit(user="30/h", address="600/h"),
    "messaging:report": Limit(user="10/h", address="300/h"),
    # --- numbers ------------------------------------------------------------
    # The public CSV is cached, but a download loop still costs bandwidth.
    "rentindex:csv": Limit(address="600/h", methods=GET),
    # --- saved searches -----------------------------------------------------
    "searches:create": Limit(user="30/h", address="600/h"),
    "searches:edit": Limit(user="120/h", address="2000/h"),
    "searches:delete": Limit(user="120/h", address="2000/h"),
    # A signed link from an email: GET turns alerts off, POST back on.
    "searches:unsubscribe": Limit(address="300/h", methods=frozenset({"GET", "POST"})),
    # --- ads (the beacon and the click redirect are per address: anonymous) --
    "ads:seen": Limit(address="3000/m"),
    "ads:click": Limit(address="1000/m", methods=GET),
    "ads:join": Limit(user="20/h", address="600/h"),
    "ads:create": Limit(user="60/h", address="1000/h"),
    "ads:edit": Limit(user="120/h", address="2000/h"),
    "ads:creatives": Limit(user="60/h", address="1000/h"),
    "ads:creative_delete": Limit(user="120/h", address="2000/h"),
    "ads:action": Limit(user="120/h", address="2000/h"),
    "ads:boost": Limit(user="20/h", address="600/h"),
    # --- the site -----------------------------------------------------------
    "set_language": Limit(user="120/h", address="3000/h"),
    "csp_report": Limit(address="60/m"),
    "admin:login": Limit(address="300/h"),
}

# Writes to a route in neither table (the admin's change forms, for one).
DEFAULT = Limit(user="600/h", address="6000/h")

NOT_LIMITED: set[str] = {
    "home",
    "searches:list",
    "healthz",
    "readyz",
    "metrics",
    "accounts:password_reset_done",
    "accounts:password_reset_complete",
    "listings:mine",
    "listings:shortlist",
    "listings:detail",
    "listings:detail_noslug",
    "visits:list",
    "visits:schedule",
    "visits:detail",
    "visits:ics",
    "messaging:inbox",
    "messaging:unread",
    "messaging:since",
    "messaging:before",
    "listings:performance",
    "rentindex:index",
    "business:dashboard",
    "business:csv",
    "ads:home",
    "ads:policy",
    "ads:balance",
    "ads:receipt",
    "ads:campaign",
    "ads:csv",
}

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def parse_rate(rate: str) -> tuple[int, int]:
    """'30/h' -> (30, 3600)."""
    count, period = rate.split("/")
    return int(count), PERIODS[period]


def limit_for(route: str, method: str) -> Limit | None:
    """The limit that applies to one request, or None."""
    limit = LIMITS.get(route)
    if limit is None:
        return None if method in SAFE_METHODS or route in NOT_LIMITED else DEFAULT
    return limit if method in limit.methods else None


# --- Who is asking -------------------------------------------------------------


def client_address(remote_addr: str, forwarded_for: str = "") -> str:
    """
    The client's address: with PROXY_COUNT trusted proxies in front, the entry
    the outermost of them appended to X-Forwarded-For; otherwise the peer.

    Entries to the left of those are whatever the client sent, so a spoofed
    X-Forwarded-For changes nothing.
    """
    count = settings.PROXY_COUNT
    if count > 0 and forwarded_for:
        hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
        if len(hops) >= count:
            return hops[-count]
    return remote_addr or ""


def request_address(request: HttpRequest) -> str:
    return client_address(
        request.META.get("REMOTE_ADDR", ""),
        request.META.get("HTTP_X_FORWARDED_FOR", ""),
    )


def scope_address(scope: dict) -> str:
    """`request_address` for a websocket's ASGI scope."""
    client = scope.get("client") or ("", 0)
    forwarded = ""
    for name, value in scope.get("headers", []):
        if name == b"x-forwarded-for":
            forwarded = value.decode("latin-1")
    return client_address(client[0], forwarded)


def address_group(address: str) -> str:
    """
    The address a limit applies to: an IPv4 address, or an IPv6 client's whole
    /64 (one subscriber gets a /64 and can pick any address inside it).
    """
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 6:
        if ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


# --- Counting ------------------------------------------------------------------


def _hashed(value: str) -> str:
    """Counters are keyed by a keyed hash: no address or email sits in the cache."""
    material = f"{settings.SECRET_KEY}:{value}".encode()
    return hashlib.sha256(material).hexdigest()[:24]


@dataclass(frozen=True)
class _Counter:
    """One limit's counter for the current window."""

    key: str
    count: int
    period: int
    window_ends: float


def _counter(bucket: str, rate: str, value: str, now: float) -> _Counter:
    count, period = parse_rate(rate)
    return _window_counter(f"rl:{bucket}:{period}:{_hashed(value)}", count, period, now)


def _window_counter(base: str, count: int, period: int, now: float) -> _Counter:
    window = int(now // period)
    return _Counter(
        key=f"{base}:{window}",
        count=count,
        period=period,
        window_ends=(window + 1) * period,
    )


def _redis_backed() -> bool:
    return settings.CACHES["default"]["BACKEND"] == "django_redis.cache.RedisCache"


def _increment(counters: list[_Counter]) -> list[int]:
    """Adds one to each counter; on Redis in one round trip (INCR + EXPIRE NX each)."""
    if _redis_backed():
        from django_redis import get_redis_connection

        pipe = get_redis_connection("default").pipeline(transaction=False)
        for counter in counters:
            key = cache.make_key(counter.key)
            pipe.incr(key)
            pipe.expire(key, counter.period + 1, nx=True)
        return [int(used) for used in pipe.execute()[::2]]
    used = []
    for counter in counters:
        try:
            cache.add(counter.key, 0, counter.period + 1)
            used.append(cache.incr(counter.key))
        except ValueError:  # expired between add and incr
            cache.set(counter.key, 1, counter.period + 1)
            used.append(1)
    return used


def _wait(counters: list[_Counter], used: list[int], now: float) -> int:
    waits = [
        max(1, math.ceil(counter.window_ends - now))
        for counter, n in zip(counters, used, strict=True)
        if n is not None and n > counter.count
    ]
    return max(waits, default=0)


def _counters(
    route: str,
    limit: Limit,
    *,
    user_id: int | None,
    address: str,
    email: str,
    device: str,
    now: float,
) -> list[_Counter]:
    counters = []
    if limit.user and user_id:
        counters.append(_counter(f"{route}:user", limit.user, str(user_id), now))
    if limit.address and address:
        counters.append(
            _counter(f"{route}:address", limit.address, address_group(address), now)
        )
    if limit.email and email:
        counters.append(
            _counter(f"{route}:email", limit.email, email.strip().lower(), now)
        )
    if limit.device and device:
        counters.append(_counter(f"{route}:device", limit.device, device, now))
    return counters


def hit(bucket: str, rate: str, value: str, *, now: float | None = None) -> int:
    """
    Counts one request against `rate` for `value`; returns 0 when allowed, or
    the seconds until the window ends when over the limit.
    """
    now = time.time() if now is None else now
    counters = [_counter(bucket, rate, value, now)]
    try:
        return _wait(counters, _increment(counters), now)
    except Exception:  # the cache is down: limits pause, pages keep working
        logger.warning("Rate limit counter unavailable for %s", bucket)
        return 0


def check(
    route: str,
    limit: Limit,
    *,
    user_id: int | None,
    address: str,
    email: str = "",
    device: str = "",
) -> int:
    """Counts one request against each of the limit's keys; 0 or the seconds to wait."""
    now = time.time()
    counters = _counters(
        route,
        limit,
        user_id=user_id,
        address=address,
        email=email,
        device=device,
        now=now,
    )
    if not counters:
        return 0
    try:
        return _wait(counters, _increment(counters), now)
    except Exception:  # the cache is down: limits pause, pages keep working
        logger.warning("Rate limit counter unavailable for %s", route)
        return 0


def wants_json(request: HttpRequest) -> bool:
    accept = request.headers.get("Accept", "")
    return (
        request.path.startswith("/api/")
        or request.content_type == "application/json"
        or ("application/json" in accept and "text/html" not in accept)
    )


def too_many(request: HttpRequest, retry_after: int, template: str) -> HttpResponse:
    minutes = max(1, math.ceil(retry_after / 60))
    if wants_json(request):
        response = JsonResponse(
            {
                "error": "rate_limited",
                "message": _("Too many requests. Try again in %(n)s minutes.")
                % {"n": shown(minutes)},
                "retry_after": retry_after,
            },
            status=429,
        )
    else:
        response = render(
            request, template, {"retry_after_minutes": minutes}, status=429
        )
    response["Retry-After"] = str(retry_after)
    return response


class RateLimitMiddleware:
    """Applies LIMITS to each request, after the URL is resolved and the user known."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if getattr(request, "_wants_device_cookie", False):
            response.set_cookie(
                DEVICE_COOKIE,
                get_random_string(32),
                max_age=DEVICE_COOKIE_AGE,
                secure=settings.SESSION_COOKIE_SECURE,
                httponly=True,
                samesite="Lax",
            )
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = request.resolver_match
        route = match.view_name if match else ""
        limit = limit_for(route, request.method)
        if limit is None:
            if route in LIMITS and LIMITS[route].device:
                request._wants_device_cookie = DEVICE_COOKIE not in request.COOKIES
            return None
        user = getattr(request, "user", None)
        wait = check(
            route if route in LIMITS else "default",
            limit,
            user_id=user.pk if user is not None and user.is_authenticated else None,
            address=request_address(request),
            email=request.POST.get("email", "") if limit.email else "",
            device=request.COOKIES.get(DEVICE_COOKIE, "") if limit.device else "",
        )
        if wait:
            logger.info("Rate limited %s %s", request.method, route)
            return too_many(request, wait, limit.template)
        return None


class SocketLimit:
    """
    A route's limit for one websocket's sends (chat messages count as
    messaging:detail, in the same counters as the HTTP form's posts).

    A send is counted once it is stored, in the same trip to Redis as the
    cache keys the send makes stale (`count(forget=...)`), and once a counter
    reaches its limit this socket refuses the next sends until that window
    ends: a socket alone is held exactly to the limit; sends from elsewhere
    (the form, other sockets) are seen one send late. `begin()` reads the
    counters when the socket opens, so a person already at the limit is
    refused at once.
    """

    def __init__(self, route: str, scope: dict):
        user = scope.get("user")
        self.route = route
        self.limit = LIMITS[route]
        self.user_id = user.pk if user is not None and user.is_authenticated else None
        self.address = scope_address(scope)
        self.paused_until = 0.0
        self._bases: list[tuple[str, int, int]] | None = None

    def _counters(self, now: float) -> list[_Counter]:
        if self._bases is None:  # hashed once per socket, not per send
            self._bases = [
                (counter.key.rpartition(":")[0], counter.count, counter.period)
                for counter in _counters(
                    self.route,
                    self.limit,
                    user_id=self.user_id,
                    address=self.address,
                    email="",
                    device="",
                    now=now,
                )
            ]
        return [
            _window_counter(base, count, period, now)
            for base, count, period in self._bases
        ]

    def wait(self) -> int:
        """0 when the next send may go, else the seconds left to wait."""
        return max(0, math.ceil(self.paused_until - time.time()))

    def _learn(self, counters: list[_Counter], used: list, now: float) -> None:
        ends = [
            counter.window_ends
            for counter, n in zip(counters, used, strict=True)
            if n is not None and int(n) >= counter.count
        ]
        self.paused_until = max(ends, default=0.0)

    async def begin(self) -> None:
        now = time.time()
        counters = self._counters(now)
        try:
            client = async_redis()
            if client is None:
                used = [cache.get(counter.key) for counter in counters]
            else:
                keys = [cache.make_key(counter.key) for counter in counters]
                used = await client.mget(keys) if keys else []
        except Exception:  # the cache is down: limits pause, sockets keep working
            logger.warning("Rate limit counter unavailable for %s", self.route)
            return
        self._learn(counters, used, now)

    def plan(self, *, forget: list[str] = ()) -> "SendCount":
        """The Redis commands that count one stored send and drop `forget`."""
        now = time.time()
        counters = self._counters(now)
        commands = [("DEL", cache.make_key(key)) for key in forget]
        for counter in counters:
            key = cache.make_key(counter.key)
            commands += [("INCR", key), ("EXPIRE", key, counter.period + 1, "NX")]
        return SendCount(now, counters, commands, skip=len(forget))

    def learn(self, plan: "SendCount", replies: list) -> None:
        """Takes the counters' new values from the replies to `plan.commands`."""
        self._learn(plan.counters, replies[plan.skip :: 2], plan.now)

    async def count(self, *, forget: list[str] = ()) -> None:
        """Counts one stored send and drops the `forget` cache keys, in one trip."""
        try:
            client = async_redis()
            if client is None:  # in-process cache: nothing to wait for
                now = time.time()
                counters = self._counters(now)
                cache.delete_many(list(forget))
                self._learn(counters, _increment(counters), now)
                return
            plan = self.plan(forget=forget)
            pipe = client.pipeline(transaction=False)
            for command in plan.commands:
                pipe.execute_command(*command)
            self.learn(plan, await pipe.execute())
        except Exception:  # the cache is down: limits pause, sockets keep working
            logger.warning("Rate limit counter unavailable for %s", self.route)


@dataclass(frozen=True)
class SendCount:
    """One send's counting commands (`SocketLimit.plan`), to run in any trip."""

    now: float
    counters: list
    commands: list[tuple]
    skip: int
