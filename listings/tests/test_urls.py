"""Every listings route, classified by who may use it (see nobroker/tests/roles.py)."""

import pytest

from listings import services
from listings.tests.factories import ListingFactory, photo_bytes
from nobroker.tests.roles import Route, cases, check

pytestmark = pytest.mark.django_db

# anonymous, tenant, owner (of the listing), other owner, staff
MATRIX = {
    "search": Route(200, 200, 200, 200, 200),
    "detail": Route(200, 200, 200, 200, 200, args=["{listing.pk}", "{listing.slug}"]),
    "detail_noslug": Route(301, 301, 301, 301, 301, args=["{listing.pk}"]),
    "mine": Route("login", 200, 200, 200, 200),
    "create": Route("login", 200, 200, 200, 200),
    "edit": Route("login", 404, 200, 404, 404, args=["{listing.pk}"]),
    "photos": Route("login", 404, 200, 404, 404, args=["{listing.pk}"]),
    "photo_action": Route(
        "login",
        404,
        302,
        404,
        404,
        args=["{listing.pk}", "{photo.pk}", "cover"],
        post=True,
    ),
    "delete": Route("login", 404, 200, 404, 404, args=["{listing.pk}"]),
    "performance": Route("login", 404, 200, 404, 404, args=["{listing.pk}"]),
    "action": Route(
        "login", 404, 302, 404, 404, args=["{listing.pk}", "rented"], post=True
    ),
    "shortlist": Route("login", 200, 200, 200, 200),
    "shortlist_toggle": Route(
        "login", 302, 302, 302, 302, args=["{listing.pk}"], post=True
    ),
    "report": Route("login", 200, 404, 200, 200, args=["{listing.pk}"]),
}


@pytest.mark.parametrize(("name", "role"), cases(MATRIX))
def test_route_answers_each_role_as_classified(client, request, name, role, owner):
    listing = ListingFactory(owner=owner)
    photo = services.photo_add(listing=listing, data=photo_bytes())
    check(
        client,
        request,
        MATRIX,
        f"listings:{name}",
        role,
        {"listing": listing, "photo": photo},
    )
