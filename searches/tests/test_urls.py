"""Every saved-search URL, classified by who may use it: a new route must be added here."""

import pytest
from django.urls import reverse

from searches import urls
from searches.services import saved_search_create

pytestmark = pytest.mark.django_db

# GET status for anonymous, tenant (the search's owner), another user, staff.
# "login" is a redirect to log in; 405 means POST only.
MATRIX = {
    "list": ("login", 200, 200, 200),
    "create": ("login", 405, 405, 405),
    "edit": ("login", 405, 405, 405),
    "delete": ("login", 405, 405, 405),
    # Signed link from the email: works for anyone holding it.
    "unsubscribe": (200, 200, 200, 200),
}


def test_every_searches_url_is_classified():
    assert {p.name for p in urls.urlpatterns} == set(MATRIX)


@pytest.mark.parametrize("name", sorted(MATRIX))
def test_url_answers_each_role_as_classified(client, name, tenant, owner, staff):
    saved = saved_search_create(user=tenant, name="x", query="q=a", frequency="daily")
    args = {
        "edit": [saved.pk],
        "delete": [saved.pk],
        "unsubscribe": [saved.unsubscribe_token()],
    }.get(name, [])
    url = reverse(f"searches:{name}", args=args)
    for user, expected in zip((None, tenant, owner, staff), MATRIX[name], strict=True):
        client.logout()
        if user:
            client.force_login(user)
        response = client.get(url)
        if expected == "login":
            assert response.status_code == 302, (name, user)
            assert response["Location"].startswith(reverse("accounts:login"))
        else:
            assert response.status_code == expected, (name, user)


def test_another_users_edit_is_not_found(client, tenant, owner):
    saved = saved_search_create(user=tenant, name="x", query="q=a", frequency="daily")
    client.force_login(owner)
    response = client.post(reverse("searches:edit", args=[saved.pk]), {"name": "y"})
    assert response.status_code == 404
