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


def hit(bucket: str, rate: str, value: str, *, now: float | None = None) -> int:
    """
    Counts one request against `rate` for `value`; returns 0 when allowed, or
    the seconds until the window ends when over the limit.
    """
    count, period = parse_rate(rate)
    now = time.time() if now is None else now
    window = int(now // period)
    key = f"rl:{bucket}:{period}:{_hashed(value)}:{window}"
    try:
        cache.add(key, 0, period + 1)
        used = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, period + 1)
        used = 1
    except Exception:  # the cache is down: limits pause, pages keep working
        logger.warning("Rate limit counter unavailable for %s", bucket)
        return 0
    if used is None or used <= count:
        return 0
    return max(1, math.ceil((window + 1) * period - now))


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
    waits = []
    if limit.user and user_id:
        waits.append(hit(f"{route}:user", limit.user, str(user_id)))
    if limit.address and address:
        waits.append(hit(f"{route}:address", limit.address, address_group(address)))
    if limit.email and email:
        waits.append(hit(f"{route}:email", limit.email, email.strip().lower()))
    if limit.device and device:
        waits.append(hit(f"{route}:device", limit.device, device))
    return max(waits, default=0)


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


async def amessage_send_wait(scope: dict) -> int:
    """A websocket message send, counted as an HTTP one (messaging:detail)."""
    from asgiref.sync import sync_to_async

    user = scope.get("user")
    return await sync_to_async(check, thread_sensitive=False)(
        "messaging:detail",
        LIMITS["messaging:detail"],
        user_id=user.pk if user is not None and user.is_authenticated else None,
        address=scope_address(scope),
    )
