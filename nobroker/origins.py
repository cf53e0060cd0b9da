"""
The websocket origin check: a socket's `Origin` must be one of the site's own
origins, scheme, host and port alike.

Channels' `AllowedHostsOriginValidator` compares the host name only, so a page
served from another port or over plain HTTP on the same host could open a
socket with the visitor's session cookie. Here each allowed host gets the
scheme and port of `SITE_URL`, and `CSRF_TRUSTED_ORIGINS` (already whole
origins) are added as they are.
"""

from urllib.parse import urlsplit

from channels.security.websocket import OriginValidator
from django.conf import settings


def site_origins() -> list[str]:
    """Every origin a page of this site is served from, as Channels' patterns."""
    site = urlsplit(settings.SITE_URL)
    port = f":{site.port}" if site.port else ""
    origins = [
        # "*" lets any origin in, as it lets any host in.
        host if host == "*" else f"{site.scheme}://{host}{port}"
        for host in settings.ALLOWED_HOSTS
    ]
    # Django writes a subdomain wildcard "https://*.example.com", Channels
    # "https://.example.com".
    origins += [
        origin.replace("://*.", "://.") for origin in settings.CSRF_TRUSTED_ORIGINS
    ]
    return origins


class SiteOriginValidator(OriginValidator):
    """`OriginValidator` with the site's origins, read from settings per socket."""

    def __init__(self, application):
        self.application = application

    @property
    def allowed_origins(self) -> list[str]:
        return site_origins()
