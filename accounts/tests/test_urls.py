"""Every accounts route, classified by who may use it (see nobroker/tests/roles.py)."""

import pytest

from nobroker.tests.roles import Route, cases, check

pytestmark = pytest.mark.django_db

# anonymous, tenant, owner, other owner, staff. "home": a redirect away from a
# page a logged-in person has no use for.
MATRIX = {
    "signup": Route(200, "home", "home", "home", "home"),
    "login": Route(200, "home", "home", "home", "home"),
    "logout": Route(405, 405, 405, 405, 405),
    "verify_email": Route(400, 400, 400, 400, 400, args=["OTk5OTk5", "bad-token"]),
    "resend_verification": Route("login", 405, 405, 405, 405),
    "profile": Route("login", 200, 200, 200, 200),
    "delete": Route("login", 200, 200, 200, 200),
    "notifications": Route("login", 200, 200, 200, 200),
    "password_change": Route("login", 200, 200, 200, 200),
    "password_reset": Route(200, 200, 200, 200, 200),
    "password_reset_done": Route(200, 200, 200, 200, 200),
    "password_reset_confirm": Route(200, 200, 200, 200, 200, args=["MQ", "bad-token"]),
    "password_reset_complete": Route(200, 200, 200, 200, 200),
}


@pytest.mark.parametrize(("name", "role"), cases(MATRIX))
def test_route_answers_each_role_as_classified(client, request, name, role):
    check(client, request, MATRIX, f"accounts:{name}", role, {})
