"""
Whole pages for visitors who are not logged in: home, search and listing pages.

A page is cached for a short while per host, path with its query (parameters
sorted), language and listings cache version, so a new or changed listing is
seen at once. What must differ per request is written in `{% fresh %}` blocks
(ads, chosen and counted per request; the search page's cards, which carry
boosted listings and ad cards): the cache keeps the page around them, and a
hit renders only those blocks again, with a small context the view gives.
The view's own counting runs before the cache is asked, so it runs on hits.

A page is stored only once a process has been asked for it
`PAGE_CACHE_MIN_USES` times (2 by default) within `PAGE_CACHE_SECONDS`, as
nginx's `proxy_cache_min_uses` does: most searches are typed once, and
storing each would cost the request that made it and fill Redis with pages
nobody reads. A busy page is then rendered a few times (up to once per
process plus one) before every process reads it from the cache.

Never cached: a page for a logged-in person or anyone with a session or
flash-message cookie, a page that used the CSRF token or the CSP nonce of its
request (both belong to one visitor), a page that sets a cookie, anything
but a 200 to GET or HEAD. The response says `private`: ads and counts are per
request, so no shared cache may keep it.
"""

import hashlib
import re
from urllib.parse import urlencode

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse
from django.template import Context
from django.template.loader import get_template
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.translation import get_language

from listings import cache as listing_cache
from nobroker.recent import Recent

# The marks a `{% fresh %}` block writes around itself while its page is
# rendered for the cache; NUL and SOH never occur in a page's HTML.
OPEN = "\x00"
SPLIT = "\x01"
FRESH = re.compile("\x00([a-z_]+)\x01(.*?)\x00", re.DOTALL)
HEADER = "X-Page-Cache"
# This process's copy of the pages it served lately (nobroker/recent.py): a
# busy page is then not read from Redis and unpickled on every request.
RECENT = Recent(size=256, seconds=10)
# The digest of each address (host, path, query string) served lately.
_DIGESTS = Recent(size=1024, seconds=600)
# How often this process was asked lately for each page it has not stored.
_ASKED = Recent(size=4096, seconds=600)


def _countable_anonymous(request) -> bool:
    if not settings.PAGE_CACHE_SECONDS or request.method not in ("GET", "HEAD"):
        return False
    cookies = request.COOKIES
    if settings.SESSION_COOKIE_NAME in cookies or "messages" in cookies:
        return False
    user = getattr(request, "user", None)
    return user is None or not user.is_authenticated


def key(request) -> str:
    # The query as the page reads it (after NepaliInputMiddleware) is a
    # function of the query string sent, so the digest is worked out once per
    # address a process serves lately.
    sent = (request.get_host(), request.path, request.META.get("QUERY_STRING", ""))
    digest = _DIGESTS.get(sent)
    if digest is None:
        query = urlencode(sorted(request.GET.lists()), doseq=True)
        where = f"{sent[0]}{sent[1]}?{query}"
        digest = hashlib.sha256(where.encode()).hexdigest()[:32]
        _DIGESTS.put(sent, digest)
    version = listing_cache.current_version()
    return f"page:{version}:{get_language() or ''}:{digest}"


def _headers(response, state: str):
    patch_vary_headers(response, ("Cookie", "Accept-Language"))
    patch_cache_control(response, private=True, max_age=0)
    response[HEADER] = state
    return response


def _fresh_nodes(template) -> dict:
    from nobroker.templatetags.page_cache import FreshNode

    nodes = getattr(template, "_fresh_nodes", None)
    if nodes is None:
        nodes = {
            node.name: node for node in template.nodelist.get_nodes_by_type(FreshNode)
        }
        template._fresh_nodes = nodes
    return nodes


def _asked(page_key: str) -> int:
    """Counts one more request for a page not in the cache; how many so far."""
    asked = (_ASKED.get(page_key) or 0) + 1
    _ASKED.put(page_key, asked, settings.PAGE_CACHE_SECONDS)
    return asked


def serve(request, fresh: dict | None = None) -> HttpResponse | None:
    """The cached page for this anonymous request, its fresh blocks rendered
    anew with `fresh` (plus request and user) as their context; else None,
    and the page the view renders next is kept (see `keep`)."""
    if not _countable_anonymous(request):
        return None
    page_key = key(request)
    entry = RECENT.read("page", page_key)
    if entry is None:
        request._page_cache_key = page_key
        request._page_cache_asked = _asked(page_key)
        return None
    template = get_template(entry["template"]).template
    nodes = _fresh_nodes(template)
    context = Context({**(fresh or {}), "request": request, "user": request.user})
    parts = [entry["parts"][0]]
    with context.bind_template(template):
        for name, after in zip(entry["fresh"], entry["parts"][1:], strict=True):
            parts.append(nodes[name].nodelist.render(context))
            parts.append(after)
    response = HttpResponse("".join(parts), content_type=entry["content_type"])
    return _headers(response, "hit")


def keep(request, response, template_name: str):
    """Takes the fresh marks out of a rendered page and, if it may be cached,
    stores the page around its fresh blocks."""
    page_key = getattr(request, "_page_cache_key", None)
    if page_key is None:
        return response
    html = response.content.decode()
    response.content = FRESH.sub(lambda m: m.group(2), html)
    nonce = getattr(request, "_csp_nonce", None)
    if (
        response.status_code != 200
        or response.cookies
        or request.META.get("CSRF_COOKIE_NEEDS_UPDATE")
        or nonce
        or request.user.is_authenticated
    ):
        return _headers(response, "skip")
    if request._page_cache_asked < settings.PAGE_CACHE_MIN_USES:
        return _headers(response, "miss")
    parts, names, start = [], [], 0
    for found in FRESH.finditer(html):
        parts.append(html[start : found.start()])
        names.append(found.group(1))
        start = found.end()
    parts.append(html[start:])
    entry = {
        "template": template_name,
        "parts": parts,
        "fresh": names,
        "content_type": response["Content-Type"],
    }
    cache.set(page_key, entry, settings.PAGE_CACHE_SECONDS)
    RECENT.put(page_key, entry, settings.PAGE_CACHE_SECONDS)
    return _headers(response, "miss")
