"""
Who is looking, told apart without keeping who they are.

A viewer is a keyed hash of the address and browser (or of the account when
logged in); the key is random, made once per day (Nepal time) in the store,
and expires two days later, so yesterday's hashes can never be recomputed
or linked to today's. No address or user agent is stored anywhere.

Signed tokens name one rendering of one ad (campaign, creative, placement,
viewer, a random nonce): the beacon and the click redirect accept nothing
else, and the store remembers which nonces were used.
"""

import hashlib
import hmac
import secrets
from functools import lru_cache

from django.core import signing
from django.utils import timezone

from ads.store import get_store

VIEW_SALT = "ads.view"
CLICK_SALT = "ads.click"
VIEW_TOKEN_SECONDS = 30 * 60
CLICK_TOKEN_SECONDS = 3 * 60 * 60
REPEAT_CLICK_SECONDS = 30 * 60
VIEWER_KEY_SECONDS = 2 * 24 * 60 * 60

_day_keys: dict = {}


def today_key() -> str:
    return timezone.localdate().isoformat()


def _daily_key(day: str) -> bytes:
    found = _day_keys.get(day)
    if found is not None:
        return found
    store = get_store()
    name = f"viewerkey:{day}"
    store.set(name, secrets.token_hex(32), ttl=VIEWER_KEY_SECONDS, nx=True)
    value = store.get(name)
    key = value if isinstance(value, bytes) else str(value).encode()
    _day_keys.clear()
    _day_keys[day] = key
    return key


def viewer_hash(request) -> str:
    """This viewer today, as 24 hex characters (raises StoreDown without a store)."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        who = f"user:{user.pk}"
    else:
        who = "anon:{}|{}".format(
            request.META.get("REMOTE_ADDR", ""),
            request.META.get("HTTP_USER_AGENT", ""),
        )
    key = _daily_key(today_key())
    return hmac.new(key, who.encode(), hashlib.sha256).hexdigest()[:24]


@lru_cache(maxsize=1)
def _crawler_detect():
    from crawlerdetect import CrawlerDetect

    return CrawlerDetect()


@lru_cache(maxsize=4096)
def _is_crawler(user_agent: str) -> bool:
    return _crawler_detect().isCrawler(user_agent)


def is_bot(request) -> bool:
    user_agent = request.META.get("HTTP_USER_AGENT", "").strip()
    if not user_agent:
        return True
    return _is_crawler(user_agent[:512])


def is_prefetch(request) -> bool:
    """A request a browser makes ahead of the visitor (prefetch, prerender)."""
    meta = request.META
    purpose = " ".join(
        meta.get(h, "")
        for h in ("HTTP_SEC_PURPOSE", "HTTP_PURPOSE", "HTTP_X_PURPOSE", "HTTP_X_MOZ")
    ).lower()
    return "prefetch" in purpose or "prerender" in purpose or "preview" in purpose


def make_token(
    *, campaign_id: int, creative_id: int, placement: str, viewer: str, salt: str
) -> str:
    return signing.dumps(
        {
            "c": campaign_id,
            "r": creative_id,
            "p": placement,
            "v": viewer,
            "n": secrets.token_hex(8),
        },
        salt=salt,
    )


def read_token(token: str, *, salt: str, max_age: int) -> dict | None:
    """The token's contents, or None if it is forged, altered or too old."""
    try:
        data = signing.loads(token, salt=salt, max_age=max_age)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or not {"c", "r", "p", "v", "n"} <= set(data):
        return None
    return data


def first_use(token_data: dict, kind: str, ttl: int) -> bool:
    """True the first time a token's nonce is used for `kind`; False after."""
    return get_store().add(f"used:{kind}:{token_data['n']}", ttl)
