"""Redirects whose target comes from the request (a `next` field or parameter)."""

import unicodedata

from django.shortcuts import redirect, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme


def safe_next_url(request, url: str | None) -> str:
    """
    `url` when it leads to a page of this site, otherwise "".

    Django's check refuses other hosts, other schemes (`javascript:`), `//host`
    and `/\\host`, and a control character at the start; a control character
    anywhere is refused here too, since browsers drop tabs and newlines inside a
    URL (`/<TAB>/host` is `//host` to them). Over HTTPS the target must be HTTPS.
    """
    url = (url or "").strip()
    if any(unicodedata.category(char).startswith("C") for char in url):
        return ""
    if not url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return ""
    return url


def redirect_next(request, url: str | None, *, fallback):
    """Redirects to `url` when it is safe (see `safe_next_url`), else to `fallback`
    (anything `redirect()` accepts: a model, a URL name, a path)."""
    return redirect(safe_next_url(request, url) or resolve_url(fallback))
