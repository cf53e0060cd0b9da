"""
Per-user counts shown in the header on every page (unread messages, unread
notifications), kept in the cache so a page view costs no query for them.

Each count is forgotten after commit whenever it changes; the short lifetime
bounds how stale a count can get if some change path forgets to forget it.
"""

from collections.abc import Callable

from django.core.cache import cache
from django.db import transaction

COUNT_SECONDS = 5 * 60


def _key(name: str, user_id: int) -> str:
    return f"count:{name}:{user_id}"


def cached_count(name: str, user_id: int, compute: Callable[[], int]) -> int:
    key = _key(name, user_id)
    value = cache.get(key)
    if value is None:
        value = compute()
        cache.set(key, value, COUNT_SECONDS)
    return value


def forget_count(name: str, user_id: int) -> None:
    """Drops the cached count now (call it in an on-commit hook or after commit)."""
    cache.delete(_key(name, user_id))


def forget_count_on_commit(name: str, user_id: int) -> None:
    """
    Forgets the count now, for the rest of this transaction, and again after
    commit, in case another request cached the old value in between.
    """
    forget_count(name, user_id)
    transaction.on_commit(lambda: forget_count(name, user_id))
