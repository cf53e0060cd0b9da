"""Every listings URL, classified by who may use it: a new route must be added here."""

import pytest
from django.urls import reverse

from listings import urls
from listings.tests.factories import ListingFactory, photo_bytes

pytestmark = pytest.mark.django_db

# For each URL name: the status for anonymous, tenant, other owner, owner, staff
# (GET). "login" means a redirect to the login page; 405 means POST only.
MATRIX = {
    "search": (200, 200, 200, 200, 200),
    "detail": (200, 200, 200, 200, 200),
    "detail_noslug": (301, 301, 301, 301, 301),
    "mine": ("login", 200, 200, 200, 200),
    "create": ("login", 200, 200, 200, 200),
    "edit": ("login", 404, 404, 200, 404),
    "photos": ("login", 404, 404, 200, 404),
    "photo_action": ("login", 405, 405, 405, 405),
    "delete": ("login", 404, 404, 200, 404),
    "performance": ("login", 404, 404, 200, 404),
    "action": ("login", 405, 405, 405, 405),
    "shortlist": ("login", 200, 200, 200, 200),
    "shortlist_toggle": ("login", 405, 405, 405, 405),
    "report": ("login", 200, 200, 404, 200),
}


def test_every_listings_url_is_classified():
    assert {p.name for p in urls.urlpatterns} == set(MATRIX)


@pytest.mark.parametrize("name", sorted(MATRIX))
def test_url_answers_each_role_as_classified(
    client, name, tenant, owner, other_owner, staff
):
    from listings import services

    listing = ListingFactory(owner=owner)
    photo = services.photo_add(listing=listing, data=photo_bytes())
    args = {
        "detail": [listing.pk, listing.slug],
        "detail_noslug": [listing.pk],
        "edit": [listing.pk],
        "photos": [listing.pk],
        "photo_action": [listing.pk, photo.pk, "delete"],
        "delete": [listing.pk],
        "performance": [listing.pk],
        "action": [listing.pk, "rented"],
        "shortlist_toggle": [listing.pk],
        "report": [listing.pk],
    }.get(name, [])
    url = reverse(f"listings:{name}", args=args)
    for user, expected in zip(
        (None, tenant, other_owner, owner, staff), MATRIX[name], strict=True
    ):
        client.logout()
        if user:
            client.force_login(user)
        response = client.get(url)
        if expected == "login":
            assert response.status_code == 302
            assert response["Location"].startswith(reverse("accounts:login"))
        else:
            assert response.status_code == expected, (name, user)
