"""
Cached search results, listing pages and result cards.

Every key carries a version number; any change to any listing or photo bumps
the version, so stale pages simply stop being read and expire on their own.
"""

import hashlib
import time

from django.core.cache import cache
from django.db import transaction
from django.utils.translation import get_language

from listings import cards
from nobroker import metrics
from nobroker.recent import Recent

VERSION_KEY = "listings:version"
SEARCH_TIMEOUT = 60 * 5
DETAIL_TIMEOUT = 60 * 15
LOCALITIES_KEY = "listings:localities:v3"
LOCALITIES_TIMEOUT = 60 * 60 * 24
# As long as a listing page: a card shows the owner's verified badge too.
CARD_TIMEOUT = DETAIL_TIMEOUT
# This process's copy of the cards and listing pages it showed lately
# (nobroker/recent.py).
RECENT_CARDS = Recent(size=2000, seconds=60)
RECENT_DETAILS = Recent(size=256, seconds=10)
# Result cards already joined into chunks for visitors not logged in, whose
# hearts are one link per page: by version, language, page and listings.
RECENT_CHUNKS = Recent(size=256, seconds=10)


# Every cached read needs the version, so each process reads it from the
# cache at most once a second; a change is seen everywhere within a second
# (at once in the process that made it).
VERSION_LOCAL_SECONDS = 1.0
_local_version: dict = {}


def current_version() -> int:
    found = _local_version.get("version")
    now = time.monotonic()
    if found and found[0] > now:
        return found[1]
    version = cache.get(VERSION_KEY)
    if version is None:
        # add() so two processes starting together agree on the first value.
        cache.add(VERSION_KEY, 1, None)
        version = cache.get(VERSION_KEY) or 1
    _local_version["version"] = (now + VERSION_LOCAL_SECONDS, version)
    return version


def bump_version() -> None:
    """Invalidates every cached search and listing page (after the commit)."""

    def _bump():
        _local_version.clear()
        try:
            cache.incr(VERSION_KEY)
        except ValueError:
            cache.set(VERSION_KEY, 2, None)

    transaction.on_commit(_bump)


def search_key(params: str) -> str:
    digest = hashlib.sha256(params.encode()).hexdigest()[:32]
    return f"listings:search:{current_version()}:{digest}"


def detail_key(pk: int) -> str:
    return f"listings:detail:{current_version()}:{pk}"


# Every search page reads the localities, so each process also keeps them in
# memory for a minute: another process sees a change within that time.
LOCALITIES_LOCAL_SECONDS = 60
_local_localities: dict = {}


def local_localities():
    """The localities this process read less than a minute ago, or None."""
    found = _local_localities.get("data")
    if found and found[0] > time.monotonic():
        return found[1]
    return None


def keep_localities_locally(data) -> None:
    _local_localities["data"] = (time.monotonic() + LOCALITIES_LOCAL_SECONDS, data)


def forget_localities() -> None:
    def _forget():
        from listings.search import RECENT_SEARCHES

        _local_localities.clear()
        RECENT_SEARCHES.clear()
        cache.delete(LOCALITIES_KEY)

    transaction.on_commit(_forget)


def card_bodies(listings) -> list[tuple]:
    """Each listing with the HTML of its result card, minus the per-user heart.

    A card is the same for everybody, so it is rendered once per listing,
    language and cache version: one round trip fetches the cards of a page,
    only the missing ones are rendered, and they are stored in one more.
    """
    listings = list(listings)
    if not listings:
        return []
    prefix = f"listings:card:{current_version()}:{get_language() or ''}:"
    keys = [f"{prefix}{listing.pk}" for listing in listings]
    found = {key: body for key in keys if (body := RECENT_CARDS.get(key)) is not None}
    if found:
        metrics.count_cache("cards", hits=len(found), misses=0)
    if len(found) < len(keys):
        stored = metrics.cache_get_many("cards", [k for k in keys if k not in found])
        for key, body in stored.items():
            RECENT_CARDS.put(key, body)
        found.update(stored)
    missing = {}
    bodies = []
    whole = _whole_listings(
        [
            listing
            for key, listing in zip(keys, listings, strict=True)
            if key not in found
        ]
    )
    for key, listing in zip(keys, listings, strict=True):
        body = found.get(key)
        if body is None:
            if listing.pk not in whole:
                continue  # deleted since the search was cached
            body = cards.card_body(whole[listing.pk])
            missing[key] = body
            RECENT_CARDS.put(key, body)
        bodies.append((listing, body))
    if missing:
        cache.set_many(missing, CARD_TIMEOUT)
    return bodies


def _whole_listings(listings) -> dict:
    """The listings whose cards are to be rendered, by id: models as they
    are, search results (cards.ListingRef) read whole in one query."""
    whole = {
        listing.pk: listing
        for listing in listings
        if not isinstance(listing, cards.ListingRef)
    }
    refs = [listing.pk for listing in listings if listing.pk not in whole]
    if refs:
        from listings.models import Listing

        whole.update(
            (listing.pk, listing)
            for listing in Listing.objects.filter(pk__in=refs).for_result_cards()
        )
    return whole


def card_chunks(listings, hearts: cards.Hearts, every: int) -> list:
    """The `<li>` of every listing's card with its heart, `every` cards to a
    chunk (cards.render_cards). A visitor not logged in sees the same chunks
    on every visit to a page, so they are joined once per page for a while."""
    listings = list(listings)
    key = None
    if hearts.anonymous is not None:
        key = (
            current_version(),
            get_language() or "",
            hearts.path,
            every,
            tuple(listing.pk for listing in listings),
        )
        found = RECENT_CHUNKS.get(key)
        if found is not None:
            metrics.count_cache("cards", hits=len(listings), misses=0)
            return found
    bodies = card_bodies(listings)
    chunks = [
        cards.render_cards(bodies[start : start + every], hearts)
        for start in range(0, len(bodies), every)
    ]
    if key is not None:
        RECENT_CHUNKS.put(key, chunks)
    return chunks
