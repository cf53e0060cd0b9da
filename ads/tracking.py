"""
Who is looking, and the signed tokens of one rendering of an ad.

The viewer is the shared counting machinery's visitor hash
(`nobroker.counting.visitor_hash`: keyed by a random key made each day and
deleted after it; no address or user agent is stored), and bots and
prefetches are told apart by the same rules every app uses.

Signed tokens name one rendering of one ad (campaign, creative, placement,
viewer, a random nonce): the beacon and the click redirect accept nothing
else, and the store remembers which nonces were used.
"""

import hashlib
import hmac
import json
import secrets
import time

from django.conf import settings
from django.core import signing

from ads.store import get_store
from nobroker import counting

VIEW_SALT = "ads.view"
CLICK_SALT = "ads.click"
VIEW_TOKEN_SECONDS = 30 * 60
CLICK_TOKEN_SECONDS = 3 * 60 * 60
REPEAT_CLICK_SECONDS = 30 * 60


def viewer_hash(request) -> str:
    """
    This viewer today; empty for an anonymous visitor who asked not to be
    tracked (Do-Not-Track, GPC), who then has no frequency cap either.
    """
    return counting.visitor_hash(request) or ""


def is_bot(request) -> bool:
    return counting.is_crawler(request.META.get("HTTP_USER_AGENT", "")[:512])


def is_prefetch(request) -> bool:
    """A request a browser makes ahead of the visitor (prefetch, prerender)."""
    return counting.is_prefetch(request)


_signing_keys: dict = {}


def _signing_key(salt: str) -> bytes:
    """The HMAC key `django.core.signing` derives for `salt`, derived once."""
    secret = settings.SECRET_KEY
    key = _signing_keys.get((salt, secret))
    if key is None:
        key = _signing_keys[(salt, secret)] = hashlib.sha256(
            f"{salt}signer{secret}".encode()
        ).digest()
    return key


def make_token(
    *, campaign_id: int, creative_id: int, placement: str, viewer: str, salt: str
) -> str:
    """
    A token exactly as `signing.dumps(data, salt=salt)` makes it (and
    `signing.loads` reads it), without deriving the key again for each of the
    two tokens of every ad on a page.
    """
    data = json.dumps(
        {
            "c": campaign_id,
            "r": creative_id,
            "p": placement,
            "v": viewer,
            "n": secrets.token_hex(8),
        },
        separators=(",", ":"),
    )
    value = f"{signing.b64_encode(data.encode()).decode()}:"
    value += signing.b62_encode(int(time.time()))
    digest = hmac.new(_signing_key(salt), value.encode(), hashlib.sha256).digest()
    return f"{value}:{signing.b64_encode(digest).decode()}"


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
