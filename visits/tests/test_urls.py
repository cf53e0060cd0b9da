"""Every visits route, classified by who may use it (see nobroker/tests/roles.py)."""

import pytest

from nobroker.tests.roles import Route, cases, check
from visits import services
from visits.tests.conftest import nepal

pytestmark = pytest.mark.django_db

# anonymous, tenant (who booked), owner (of the listing), other owner, staff.
# Actions answer an empty form with the visit page and its errors (400) or
# redirect back to the visit (302). The owner sees the booking page of their own
# listing, which says so, and the booking service refuses them.
VISIT = ["{visit.pk}"]
MATRIX = {
    "list": Route("login", 200, 200, 200, 200),
    "schedule": Route("login", 200, 200, 200, 200),
    "book": Route("login", 200, 200, 200, 200, args=["{listing.pk}"]),
    "availability": Route("login", 404, 200, 404, 404, args=["{listing.pk}"]),
    "detail": Route("login", 200, 200, 404, 404, args=VISIT),
    "confirm": Route("login", 404, 302, 404, 404, args=VISIT, post=True),
    "decline": Route("login", 404, 400, 404, 404, args=VISIT, post=True),
    "propose": Route("login", 404, 400, 404, 404, args=VISIT, post=True),
    "accept": Route("login", 302, 404, 404, 404, args=VISIT, post=True),
    "reject": Route("login", 302, 404, 404, 404, args=VISIT, post=True),
    "cancel": Route("login", 400, 400, 404, 404, args=VISIT, post=True),
    "outcome": Route("login", 404, 302, 404, 404, args=VISIT, post=True),
    "feedback": Route("login", 400, 404, 404, 404, args=VISIT, post=True),
    "ics": Route("login", 200, 200, 404, 404, args=VISIT),
}


@pytest.mark.parametrize(("name", "role"), cases(MATRIX))
def test_route_answers_each_role_as_classified(
    client, request, name, role, listing, tenant, frozen_now
):
    visit = services.visit_request(
        tenant=tenant, listing=listing, starts_at=nepal(2026, 12, 5, 10, 0)
    )
    check(
        client,
        request,
        MATRIX,
        f"visits:{name}",
        role,
        {"listing": listing, "visit": visit},
    )
