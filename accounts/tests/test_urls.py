"""Every accounts and site URL, classified by who may use it: a new route must be added."""

import pytest
from django.urls import get_resolver, reverse

from accounts import urls

pytestmark = pytest.mark.django_db

# GET status for anonymous, tenant, owner, staff. "login" is a redirect to log in;
# "home" a redirect away from a page a logged-in person has no use for.
MATRIX = {
    "signup": (200, "home", "home", "home"),
    "login": (200, "home", "home", "home"),
    "logout": (405, 405, 405, 405),
    "verify_email": (400, 400, 400, 400),
    "resend_verification": ("login", 405, 405, 405),
    "profile": ("login", 200, 200, 200),
    "delete": ("login", 200, 200, 200),
    "notifications": ("login", 200, 200, 200),
    "password_change": ("login", 200, 200, 200),
    "password_reset": (200, 200, 200, 200),
    "password_reset_done": (200, 200, 200, 200),
    "password_reset_confirm": (200, 200, 200, 200),
    "password_reset_complete": (200, 200, 200, 200),
}
ARGS = {
    "verify_email": ["OTk5OTk5", "bad-token"],
    "password_reset_confirm": ["MQ", "bad-token"],
}
# csp_report takes POSTs from browsers only; metrics answers its scraper only.
SITE = {
    "home": 200,
    "healthz": 200,
    "set_language": 405,
    "csp_report": 405,
    "metrics": 404,
}


def test_every_accounts_url_is_classified():
    assert {p.name for p in urls.urlpatterns} == set(MATRIX)


def test_every_app_is_mounted_and_every_site_url_is_classified():
    resolver = get_resolver()
    mounted = {
        p.namespace for p in resolver.url_patterns if getattr(p, "namespace", None)
    }
    assert {"accounts", "listings", "visits", "admin"} <= mounted
    site_names = {p.name for p in resolver.url_patterns if getattr(p, "name", None)} - {
        "readyz"
    }  # readyz is covered by the health tests
    assert site_names == set(SITE)


@pytest.mark.parametrize("name", sorted(MATRIX))
def test_accounts_url_answers_each_role_as_classified(
    client, name, tenant, owner, staff
):
    url = reverse(f"accounts:{name}", args=ARGS.get(name, []))
    for user, expected in zip((None, tenant, owner, staff), MATRIX[name], strict=True):
        client.logout()
        if user:
            client.force_login(user)
        response = client.get(url)
        if expected == "login":
            assert response.status_code == 302, (name, user)
            assert response["Location"].startswith(reverse("accounts:login"))
        elif expected == "home":
            assert response.status_code == 302, (name, user)
            assert response["Location"] == reverse("home")
        else:
            assert response.status_code == expected, (name, user)


@pytest.mark.parametrize("name", sorted(SITE))
def test_site_pages_are_public(client, name):
    assert client.get(reverse(name)).status_code == SITE[name]
