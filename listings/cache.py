"""
Cached search results and listing pages.

Every key carries a version number; any change to any listing or photo bumps
the version, so stale pages simply stop being read and expire on their own.
"""

import hashlib

from django.core.cache import cache
from django.db import transaction
from django.template.loader import render_to_string
from django.utils.translation import get_language

VERSION_KEY = "listings:version"
SEARCH_TIMEOUT = 60 * 5
DETAIL_TIMEOUT = 60 * 15
LOCALITIES_KEY = "listings:localities:v2"
LOCALITIES_TIMEOUT = 60 * 60 * 24
# As long as a listing page: a card shows the owner's verified badge too.
CARD_TIMEOUT = DETAIL_TIMEOUT
CARD_TEMPLATE = "listings/includes/listing_card_body.html"


def current_version() -> int:
    version = cache.get(VERSION_KEY)
    if version is None:
        # add() so two processes starting together agree on the first value.
        cache.add(VERSION_KEY, 1, None)
        version = cache.get(VERSION_KEY) or 1
    return version


def bump_version() -> None:
    """Invalidates every cached search and listing page (after the commit)."""

    def _bump():
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


def forget_localities() -> None:
    transaction.on_commit(lambda: cache.delete(LOCALITIES_KEY))


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
    found = cache.get_many(keys)
    missing = {}
    bodies = []
    for key, listing in zip(keys, listings, strict=True):
        body = found.get(key)
        if body is None:
            body = render_to_string(CARD_TEMPLATE, {"listing": listing})
            missing[key] = body
        bodies.append((listing, body))
    if missing:
        cache.set_many(missing, CARD_TIMEOUT)
    return bodies
