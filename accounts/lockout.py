"""
Failed password checks, counted per account and per address.

django-axes does the wiring (its authentication backend refuses a locked
account, its middleware answers with the lockout page); this handler does the
counting. An account locks after LOGIN_FAILURE_LIMIT failures from anywhere.
An address locks only after LOGIN_IP_FAILURE_LIMIT, far higher: most people in
Nepal share their mobile operator's addresses, so one address can be thousands
of people, and one guesser there must not lock them all out.

The counters live in the cache under keyed hashes: no email or IP address is
stored. https://django-axes.readthedocs.io/en/latest/5_customization.html
"""

from axes.handlers.base import AbstractAxesHandler, AxesBaseHandler
from axes.helpers import get_cache_timeout, get_client_username
from axes.signals import user_locked_out
from django.conf import settings
from django.core.cache import cache
from django.utils.crypto import salted_hmac

from nobroker.ratelimits import address_group


def lockout_username(request, credentials=None) -> str:
    """Counts failed logins per address however it was typed (case, spaces)."""
    value = (credentials or {}).get("username") or request.POST.get("username", "")
    return value.strip().lower()


def _key(kind: str, value: str) -> str:
    digest = salted_hmac(
        "accounts.lockout", f"{kind}:{value}", algorithm="sha256"
    ).hexdigest()[:32]
    return f"lockout:{kind}:{digest}"


def account_key(username: str) -> str:
    return _key("account", username.strip().lower())


def address_key(ip_address: str) -> str:
    return _key("address", address_group(ip_address))


class LockoutHandler(AbstractAxesHandler, AxesBaseHandler):
    """Axes handler with one counter per account and one per address."""

    def _counters(self, request, credentials=None) -> list[tuple[str, int, bool]]:
        """(cache key, limit, whether each failure restarts the cool-off)."""
        counters = []
        username = get_client_username(request, credentials)
        if username:
            counters.append((account_key(username), settings.LOGIN_FAILURE_LIMIT, True))
        ip_address = getattr(request, "axes_ip_address", None)
        if ip_address:
            # A fixed window: on a busy shared address ordinary typos arrive all
            # day, and a window they kept sliding would never close.
            counters.append(
                (address_key(ip_address), settings.LOGIN_IP_FAILURE_LIMIT, False)
            )
        return counters

    def get_failures(self, request, credentials=None) -> int:
        counts = [
            cache.get(key) or 0 for key, _, _ in self._counters(request, credentials)
        ]
        return max(counts, default=0)

    def is_locked(self, request, credentials=None) -> bool:
        if not settings.AXES_LOCK_OUT_AT_FAILURE:
            return False
        return any(
            (cache.get(key) or 0) >= limit
            for key, limit, _ in self._counters(request, credentials)
        )

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs):
        if request is None or self.is_whitelisted(request, credentials):
            return
        timeout = get_cache_timeout(request)
        locked = False
        for key, limit, sliding in self._counters(request, credentials):
            if cache.add(key, 1, timeout):
                count = 1
            else:
                try:
                    count = cache.incr(key)
                except ValueError:  # expired between add() and incr()
                    cache.set(key, 1, timeout)
                    count = 1
                if sliding:
                    cache.touch(key, timeout)
            locked = locked or (count or 0) >= limit
        request.axes_failures_since_start = self.get_failures(request, credentials)
        if locked and settings.AXES_LOCK_OUT_AT_FAILURE:
            request.axes_locked_out = True
            request.axes_credentials = credentials
            user_locked_out.send(
                "axes",
                request=request,
                username=get_client_username(request, credentials),
                ip_address=request.axes_ip_address,
            )

    def user_logged_in(self, sender, request, user, **kwargs):
        # Only the account's count: a guesser logging into an account of their
        # own must not reset the address's.
        if settings.AXES_RESET_ON_SUCCESS:
            cache.delete(account_key(user.get_username()))

    def user_logged_out(self, sender, request, user, **kwargs):
        pass

    def reset_attempts(self, *, ip_address=None, username=None, ip_or_username=False):
        keys = []
        if username:
            keys.append(account_key(username))
        if ip_address:
            keys.append(address_key(ip_address))
        return sum(bool(cache.delete(key)) for key in keys)
